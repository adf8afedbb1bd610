"""A small segmentation study: UperNet on an MAE-pretrained ViT against the same model from random
initialisation, on a generated ADE20K-layout set
(`python -m tools.studies.segmentation --out docs`).

1. `write_ade20k` (what `mae synth-ade20k` runs) writes the set; 2. `mae train` pretrains an MAE on its
training images (the folder config, `--cfg-options` pointing it at them); 3. `mae train` fine-tunes
the tiny CPU segmentation config twice (MAE weights / random init), same budget and seed, in parallel;
4. `mae test` scores both (mIoU, mAcc, aAcc) and draws label maps; 5. a picture (truth and both arms'
predictions), `study_segmentation.json` and a section of `RESULTS.md` in `--out`.

Every stage leaves a file that marks it done; a rerun with the same arguments skips finished stages
(their recorded wall times are kept), and a work folder made with other arguments is refused.
"""
import argparse
import glob
import json
import os

from tools.studies.stages import (ROOT, both, mae, open_summary, publish, section_end,
                                   side_by_side, stage, template)

ARMS = {"mae": "MAE-pretrained", "random": "random init"}
BUDGET = ("train", "val", "size", "classes", "seed", "dim", "depth", "heads", "pretrain_epochs", "mae_batch",
          "norm_pix", "iters", "batch", "lr")


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="where the picture, the JSON and RESULTS.md's section go")
    p.add_argument("--work", default="work_dirs/study_segmentation", help="data, runs and logs")
    p.add_argument("--train", type=int, default=400, help="training scenes")
    p.add_argument("--val", type=int, default=100, help="validation scenes")
    p.add_argument("--size", type=int, default=128, help="scene side (pixels)")
    p.add_argument("--classes", type=int, default=16)
    p.add_argument("--seed", type=int, default=0, help="the set's seed and every run's")
    p.add_argument("--dim", type=int, default=96, help="ViT width (patch 8, crop 64 as the tiny config)")
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--pretrain-epochs", type=int, default=200)
    p.add_argument("--mae-batch", type=int, default=32)
    p.add_argument("--norm-pix", action=argparse.BooleanOptionalAction, default=False,
                   help="normalised-pixel MAE loss (off: per-patch normalisation drops the mean colour, "
                        "and colour is much of what tells this set's classes apart)")
    p.add_argument("--iters", type=int, default=400, help="fine-tuning iterations, each arm")
    p.add_argument("--batch", type=int, default=8, help="fine-tuning batch")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning peak lr (the tiny config's)")
    p.add_argument("--pictures", type=int, default=4, help="validation scenes drawn")
    args = p.parse_args(argv)
    if args.depth < 4:
        p.error("--depth must be at least 4: UperNet takes features from 4 different blocks")
    return args


def pretrain(args, work: str, images: str) -> None:
    opts = [f"train_dataloader.dataset.root={images}", f"train_dataloader.batch_size={args.mae_batch}",
            f"max_epochs={args.pretrain_epochs}", f"warmup_epochs={max(1, args.pretrain_epochs // 10)}",
            f"model.embed_dim={args.dim}", f"model.depth={args.depth}", f"model.num_heads={args.heads}",
            f"model.norm_pix_loss={args.norm_pix}", f"randomness.seed={args.seed}"]
    # one thread: on a shared 2-core machine two OpenMP threads ran ~7x slower per image here
    job = mae(["train", "configs/pretrain/mae_vit-tiny-p8_folder_cpu.py", "--work-dir", os.path.join(work, "mae"),
               "--cfg-options", *opts], os.path.join(work, "pretrain.log"), env=dict(OMP_NUM_THREADS="1"))
    if job.wait():
        raise SystemExit(f"pretraining failed; see {work}/pretrain.log")


def finetune_both(args, work: str, data: str) -> None:
    synthetic = dict(num_train=args.train, num_val=args.val, size=(args.size, args.size),
                     num_classes=args.classes, seed=args.seed)
    out = tuple(sorted({args.depth * k // 4 - 1 for k in (1, 2, 3, 4)}))  # 4 levels, evenly spaced
    for arm in ARMS:
        ckpt = os.path.join(work, "mae", "checkpoint-final.pth")
        with open(os.path.join(work, f"seg_{arm}.py"), "w") as f:
            f.write(template("segmentation_finetune", root=ROOT, data=data, synthetic=synthetic,
                             dim=args.dim, depth=args.depth, heads=args.heads, out=out,
                             classes=args.classes, batch=args.batch, lr=args.lr,
                             warmup=max(1, args.iters // 10), iters=args.iters, seed=args.seed,
                             pretrained=repr(ckpt) if arm == "mae" else None))
    both({arm: ["train", os.path.join(work, f"seg_{arm}.py"), "--work-dir", os.path.join(work, arm)]
          for arm in ARMS}, "finetune", work)


def evaluate_both(args, work: str) -> None:
    """Scores on every validation scene, then label maps drawn for the first few (in the same pass
    when every scene is drawn); leaves the file `evaluated`."""
    for arm in ARMS:
        with open(os.path.join(work, f"draw_{arm}.py"), "w") as f:
            f.write(template("segmentation_draw", arm=arm, pictures=args.pictures))
    drawn = args.val <= args.pictures
    for name, config in (("eval", "draw_{}.py" if drawn else "seg_{}.py"), ("draw", "draw_{}.py"))[:2 - drawn]:
        both({arm: ["test", os.path.join(work, config.format(arm)), os.path.join(work, arm, f"iter_{args.iters}.pth"),
                    "--work-dir", os.path.join(work, f"{name}_{arm}")] for arm in ARMS}, name, work)
    open(os.path.join(work, "evaluated"), "w").close()


def picture(args, work: str, path: str) -> None:
    """Columns: truth, then each arm's prediction, over the image (halves of `mae test`'s drawings)."""
    import numpy as np
    from PIL import Image

    runs = {arm: sorted(glob.glob(os.path.join(work, f"*_{arm}", "*", "vis_data")), key=os.path.getmtime)
            for arm in ARMS}
    drawn = {arm: sorted(glob.glob(os.path.join(r[-1], "vis_image", "*.png"))) for arm, r in runs.items()}
    columns = {"ground truth": [], **{f"{ARMS[a]} prediction": [] for a in ARMS}}
    for i in range(min(args.pictures, len(drawn["mae"]))):
        for arm in ARMS:
            both = np.asarray(Image.open(drawn[arm][i]).convert("RGB"))  # truth | prediction
            half = both.shape[1] // 2
            if arm == "mae":
                columns["ground truth"].append(both[:, :half])
            columns[f"{ARMS[arm]} prediction"].append(both[:, half:])
    side_by_side(path, columns)


def section(summary: dict, out: str) -> str:
    """RESULTS.md's section, from the summary alone (a cached rerun rewrites it identically)."""
    a = summary["args"]
    rows = "\n".join(f"| {ARMS[k]} | {m['mIoU']:.1f} | {m['mAcc']:.1f} | {m['aAcc']:.1f} |"
                     for k, m in summary["metrics"].items())

    loss = "normalised-pixel" if a["norm_pix"] else "plain pixel"

    def diff(key):
        return f"{summary['metrics']['mae'][key] - summary['metrics']['random'][key]:+.1f}"
    return f"""# Segmentation study: synthetic ADE20K layout

Produced by one command, `{summary['command']}`, report written {summary['date']}, on
{summary['machine']} (2 cores shared with other jobs; niceness {summary['nice']}). Seed {a['seed']} for the set and
every run.

**Set.** `write_ade20k` (`mae synth-ade20k`): {a['train']} training and {a['val']} validation scenes of
{a['size']}x{a['size']} px, {a['classes']} classes (label 0 ignored), seed {a['seed']}.
**Model.** The tiny CPU config `configs/segmentation/upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py`
widened: ViT patch 8, width {a['dim']}, {a['depth']} blocks, {a['heads']} heads, crop 64, UperNet + FCN
auxiliary head, sliding-window test. **MAE pretraining**: `mae train
configs/pretrain/mae_vit-tiny-p8_folder_cpu.py` with `--cfg-options` pointing it at the {a['train']} training
images (labels unused), {a['pretrain_epochs']} epochs at batch {a['mae_batch']}, {loss} loss, mask ratio 0.75.
**Fine-tuning**, both arms the same config and seed: {a['iters']} iterations at batch {a['batch']}, AdamW peak
lr {a['lr']:g}, layer decay 0.65 (also for random init: the config is shared), warmup then poly; the only
difference is `model.pretrained`.
Scores: `mae test` on the {a['val']} validation scenes (mmseg's IoUMetric), evaluated once, at the end.

| backbone | mIoU | mAcc | aAcc |
|---|---|---|---|
{rows}

MAE-pretrained minus random init: {diff('mIoU')} mIoU, {diff('mAcc')} mAcc, {diff('aAcc')} aAcc (one seed, one
run each).

{section_end(summary, out, "truth and both arms' predicted label maps")}"""


def main(argv=None) -> None:
    args = parse(argv)
    out, work = os.path.abspath(args.out), os.path.abspath(args.work)
    data = os.path.join(work, "data", "ADEChallengeData2016")
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    summary, save = open_summary(work, {k: getattr(args, k) for k in BUDGET})

    from transfer.segmentation.synthetic import MARKER, write_ade20k
    stage(summary, "generate", os.path.join(data, MARKER), lambda: write_ade20k(
        data, args.train, args.val, (args.size, args.size), args.classes, args.seed, progress=True))
    save()
    stage(summary, "pretrain", os.path.join(work, "mae", "checkpoint-final.pth"),
          lambda: pretrain(args, work, os.path.join(data, "images", "training")))
    save()
    stage(summary, "finetune_both", os.path.join(work, "random", f"iter_{args.iters}.pth"),
          lambda: finetune_both(args, work, data))
    save()
    stage(summary, "evaluate", os.path.join(work, "evaluated"),
          lambda: evaluate_both(args, work))
    summary["metrics"] = {arm: json.load(open(os.path.join(work, f"eval_{arm}", "test_metrics.json")))["metrics"]
                          for arm in ARMS}
    summary["picture"] = os.path.join(out, "study_segmentation.png")
    picture(args, work, summary["picture"])
    publish(summary, save, "segmentation", argv, out, section)
    for arm, m in summary["metrics"].items():
        print(f"{ARMS[arm]:15s} mIoU {m['mIoU']:.1f}  mAcc {m['mAcc']:.1f}  aAcc {m['aAcc']:.1f}")
    print(json.dumps(summary["seconds"]))


if __name__ == "__main__":
    main()
