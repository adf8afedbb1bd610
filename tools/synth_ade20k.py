"""`mae synth-ade20k OUT`: a synthetic scene-parsing set in the real ADE20K layout (for tests, demos
and small studies; the generator itself is `transfer.segmentation.synthetic`)."""
import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("synth-ade20k", help="write a synthetic ADE20K-layout set (images + exact label maps)")
    p.add_argument("out", help="the ADEChallengeData2016 folder to write")
    p.add_argument("--train", type=int, default=32, help="training images")
    p.add_argument("--val", type=int, default=8, help="validation images")
    p.add_argument("--size", type=int, nargs=2, default=(128, 128), metavar=("H", "W"), help="image height and width in pixels")
    p.add_argument("--classes", type=int, default=8, help="how many of ADE20K's first classes appear (2-150)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated scenes (same seed: same set)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from transfer.segmentation.synthetic import write_ade20k

    write_ade20k(args.out, num_train=args.train, num_val=args.val, size=tuple(args.size),
                 num_classes=args.classes, seed=args.seed, progress=True)
