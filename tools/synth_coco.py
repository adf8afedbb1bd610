"""`mae synth-coco OUT`: write a synthetic instance-segmentation set in the COCO layout (exact masks,
polygons and RLE, crowd regions, empty images; ids from 1) for tests, demos and CPU studies."""
import argparse

from pretrain.errors import ConfigError


def add_parser(sub) -> None:
    p = sub.add_parser("synth-coco", help="generate a synthetic COCO-layout detection set")
    p.add_argument("out", help="folder to write train2017/, val2017/, annotations/ into")
    p.add_argument("--train", type=int, default=96, help="number of training images")
    p.add_argument("--val", type=int, default=24, help="number of validation images")
    p.add_argument("--size", type=int, default=128, help="longest image side in pixels (sides vary 75-100%%)")
    p.add_argument("--max-objects", type=int, default=4, help="most objects per image")
    p.add_argument("--object-scale", type=float, nargs=2, default=(0.15, 0.45), metavar=("MIN", "MAX"),
                   help="object box sides as fractions of the shorter image side")
    p.add_argument("--categories", type=int, default=3, help="how many shape categories (1-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated images (same seed: same set)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from transfer.detection.synthetic import make_synthetic_coco

    if args.train < 1 or args.val < 1 or args.size < 32:
        raise ConfigError("need at least 1 training and 1 validation image of at least 32 px")
    try:
        paths = make_synthetic_coco(args.out, args.train, args.val, args.size, args.seed, args.max_objects,
                                    tuple(args.object_scale), args.categories)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for split, path in paths.items():
        print(f"{split}: {path}")
