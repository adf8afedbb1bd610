"""A small detection study: Mask R-CNN with an MAE-pretrained ViT against the same detector from
random initialisation, on a generated COCO-layout set
(`python -m tools.studies.detection --out docs`).

1. `make_synthetic_coco` (what `mae synth-coco` runs) writes the set; 2. `mae train` pretrains an MAE
on its training images; 3. `mae train` fine-tunes the tiny CPU detection config twice (MAE weights /
random init), same schedule and seed, in parallel; 4. `mae test` scores both (COCO box and mask AP)
and draws predictions; 5. a picture (truth and both arms' predictions on validation images),
`study_detection.json` and a section of `RESULTS.md` in `--out`. Every job is a config file written
into the work folder that inherits from the repository's configs, so the runs are what a user would run.

Every stage leaves a file that marks it done; a rerun with the same arguments skips finished stages
(their recorded wall times are kept), and a work folder made with other arguments is refused.
Choose settings on a set of another seed (`--seed`), never on the reported validation images. The
defaults are the run recorded in docs/RESULTS.md (~29 min on a shared 2-core CPU).
"""
import argparse
import json
import os

from tools.studies.stages import (ROOT, both, mae, open_summary, publish, section_end,
                                   side_by_side, stage, template)
from transfer.detection.synthetic import CATEGORIES

ARMS = {"mae": "MAE-pretrained", "random": "random init"}
BUDGET = ("train", "val", "size", "max_objects", "object_scale", "categories", "seed", "dim", "depth", "heads",
          "pretrain_epochs", "mae_batch", "mae_base_lr", "norm_pix", "det_epochs", "batch", "lr", "channels",
          "head_channels", "head_convs", "fc_dim", "roi_batch", "precision")


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="where the picture, the JSON and RESULTS.md's section go")
    p.add_argument("--work", default="work_dirs/study_detection", help="data, runs and logs")
    p.add_argument("--train", type=int, default=500, help="training images")
    p.add_argument("--val", type=int, default=100, help="validation images")
    p.add_argument("--size", type=int, default=96, help="longest image side (pixels; sides vary 75-100%%)")
    p.add_argument("--max-objects", type=int, default=3, help="most objects per image")
    p.add_argument("--object-scale", type=float, nargs=2, default=[0.3, 0.6], metavar=("MIN", "MAX"),
                   help="object box sides as fractions of the shorter image side")
    p.add_argument("--categories", type=int, default=1, help="shape categories used (1-3)")
    p.add_argument("--seed", type=int, default=0, help="the set's seed and every run's")
    p.add_argument("--dim", type=int, default=96, help="ViT width (patch 16)")
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--pretrain-epochs", type=int, default=200)
    p.add_argument("--mae-batch", type=int, default=32)
    p.add_argument("--mae-base-lr", type=float, default=6e-3, help="lr = this x MAE batch / 256")
    p.add_argument("--norm-pix", action=argparse.BooleanOptionalAction, default=True,
                   help="normalised-pixel MAE loss")
    p.add_argument("--det-epochs", type=int, default=12, help="detector epochs (lr x0.1 at 75%% and 92%%)")
    p.add_argument("--batch", type=int, default=4, help="detector batch")
    p.add_argument("--lr", type=float, default=1e-3, help="detector peak lr (AdamW, layer decay 0.7)")
    p.add_argument("--precision", default="fp32")
    p.add_argument("--channels", type=int, default=64, help="pyramid width")
    p.add_argument("--head-channels", type=int, default=64, help="box / mask head convolutions' width")
    p.add_argument("--head-convs", type=int, default=1)
    p.add_argument("--fc-dim", type=int, default=256)
    p.add_argument("--roi-batch", type=int, default=64, help="sampled RoIs per image")
    p.add_argument("--pictures", type=int, default=4, help="validation images drawn")
    return p.parse_args(argv)


def pretrain(args, work: str, data: str) -> None:
    cfg = os.path.join(work, "pretrain.py")
    with open(cfg, "w") as f:
        f.write(template("detection_pretrain", root=ROOT, data=data, size=args.size, dim=args.dim,
                         depth=args.depth, heads=args.heads, base_lr=args.mae_base_lr,
                         epochs=args.pretrain_epochs, warmup=max(1, args.pretrain_epochs // 10),
                         batch=args.mae_batch, norm_pix=args.norm_pix, seed=args.seed))
    job = mae(["train", cfg, "--work-dir", os.path.join(work, "mae")], os.path.join(work, "pretrain.log"),
              env=dict(OMP_NUM_THREADS="1"))  # one thread: on a shared 2-core machine two ran a step 4-30x slower
    if job.wait():
        raise SystemExit(f"pretraining failed; see {work}/pretrain.log")


def detector_configs(args, work: str, data: str) -> dict:
    from transfer.detection.vitdet import evenly_spaced

    e = args.det_epochs
    configs = {}
    for arm in ARMS:
        ckpt = os.path.join(work, "mae", "checkpoint-final.pth")
        configs[arm] = os.path.join(work, f"detect_{arm}.py")
        with open(configs[arm], "w") as f:
            f.write(template(
                "detection_finetune",
                root=ROOT, data=data, size=args.size, epochs=e, categories=args.categories, dim=args.dim,
                depth=args.depth, heads=args.heads,
                anchors=tuple(max(4, args.size // 16) * 2 ** i for i in range(5)), window=max(2, args.size // 32),
                globals_=evenly_spaced(args.depth, 4 if args.depth >= 8 else 2), channels=args.channels,
                head_channels=args.head_channels, head_convs=args.head_convs, fc_dim=args.fc_dim,
                roi_batch=args.roi_batch, batch=args.batch, precision=args.precision, lr=args.lr,
                milestones=sorted({max(1, round(e * 0.75)), max(1, round(e * 0.92))}),
                pictures=list(range(1, args.pictures + 1)), seed=args.seed,
                pretrained=repr(ckpt) if arm == "mae" else None))
    return configs


def truth(data: str, img_id: int):
    """The validation image `img_id` with its annotated (non-crowd) instances drawn."""
    import torch
    from pycocotools.coco import COCO

    from transfer.detection.draw import draw_predictions
    from torchvision.io import ImageReadMode, decode_image

    coco = COCO(os.path.join(data, "annotations", "instances_val2017.json"))
    img = decode_image(os.path.join(data, "val2017", coco.imgs[img_id]["file_name"]), mode=ImageReadMode.RGB)
    anns = [a for a in coco.imgToAnns[img_id] if not a["iscrowd"]]
    boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
                          for a in anns]).reshape(-1, 4)
    masks = torch.stack([torch.from_numpy(coco.annToMask(a)) for a in anns]) if anns \
        else torch.zeros(0, *img.shape[1:], dtype=torch.uint8)
    pred = dict(boxes=boxes, labels=torch.tensor([a["category_id"] for a in anns]), masks=masks,
                scores=torch.ones(len(anns)))
    classes = [c["name"] for c in sorted(coco.cats.values(), key=lambda c: c["id"])]
    return draw_predictions(img, pred, classes, 0.0).permute(1, 2, 0).numpy()


def section(summary: dict, out: str) -> str:
    """RESULTS.md's section, from the summary alone (a cached rerun rewrites it identically)."""
    a, m = summary["args"], summary["metrics"]
    keys = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "segm_mAP", "segm_mAP_50", "segm_mAP_75")
    rows = "\n".join(f"| {ARMS[k]} | " + " | ".join(f"{100 * v[f'coco/{key}']:.1f}" for key in keys) + " |"
                     for k, v in m.items())
    diff = ", ".join(f"{100 * (m['mae'][f'coco/{key}'] - m['random'][f'coco/{key}']):+.1f} {name}"
                     for key, name in (("bbox_mAP", "box AP"), ("segm_mAP", "mask AP")))
    return f"""# Detection study: synthetic COCO layout

Produced by one command, `{summary['command']}`, report written {summary['date']}, on
{summary['machine']} (2 cores shared with other jobs; niceness {summary['nice']}). Seed {a['seed']} for the set and
every run; the settings were chosen on pilot runs scored on sets of other seeds, never on these validation images.

**Set.** `make_synthetic_coco` (`mae synth-coco`): {a['train']} training and {a['val']} validation images, longest
side {a['size']} px, at most {a['max_objects']} objects each, box sides {a['object_scale'][0]:g}-{a['object_scale'][1]:g} of the shorter image
side, {a['categories']} categor{'y' if a['categories'] == 1 else 'ies'} ({', '.join(CATEGORIES[:a['categories']])}; occlusions, crowd regions, empty
images), seed {a['seed']}.
**Model.** `configs/detection/mask-rcnn_vit-tiny_synthetic_cpu.py` resized: ViTDet backbone, patch 16, width
{a['dim']}, {a['depth']} blocks, {a['heads']} heads, windowed attention with global blocks, relative positions, simple
feature pyramid {a['channels']} wide; torchvision Mask R-CNN with {a['head_convs']} x {a['head_channels']}-channel conv box / mask
heads, fc {a['fc_dim']}, {a['roi_batch']} RoIs per image. **MAE pretraining**: `mae train` on the {a['train']} training images
(annotations unused), {a['pretrain_epochs']} epochs at batch {a['mae_batch']}, base lr {a['mae_base_lr']:g}, mask ratio 0.75,
{'normalised-pixel' if a['norm_pix'] else 'plain pixel'} loss.
**Fine-tuning**, both arms the same config and seed: {a['det_epochs']} epochs at batch {a['batch']} (empty images
skipped), AdamW lr {a['lr']:g} with layer decay 0.7 (also for random init: the config is shared), wd 0.1,
scale jitter 0.5-1.5 + flip, lr x0.1 at 75% and 92%, {a['precision']}; the only difference is
`model.backbone.net.pretrained`. Scores: `mae test` (pycocotools COCOeval) on the {a['val']} validation images,
evaluated once, at the end.

| backbone | box AP | box AP50 | box AP75 | mask AP | mask AP50 | mask AP75 |
|---|---|---|---|---|---|---|
{rows}

MAE-pretrained minus random init: {diff} (one seed, one run each).

{section_end(summary, out, "truth and both arms' predictions (score >= 0.5) on validation images")}"""


def main(argv=None) -> None:
    args = parse(argv)
    out, work = os.path.abspath(args.out), os.path.abspath(args.work)
    data = os.path.join(work, "data")
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    summary, save = open_summary(work, {k: getattr(args, k) for k in BUDGET})

    from transfer.detection.synthetic import make_synthetic_coco
    stage(summary, "generate", os.path.join(data, "annotations", "instances_val2017.json"), lambda: make_synthetic_coco(
        data, args.train, args.val, args.size, args.seed, args.max_objects, tuple(args.object_scale),
        args.categories))
    save()
    stage(summary, "pretrain", os.path.join(work, "mae", "checkpoint-final.pth"), lambda: pretrain(args, work, data))
    save()
    configs = detector_configs(args, work, data)
    stage(summary, "finetune_both", os.path.join(work, "random", f"epoch_{args.det_epochs}.pth"), lambda: both(
        {arm: ["train", cfg, "--work-dir", os.path.join(work, arm)] for arm, cfg in configs.items()}, "finetune", work))
    save()
    done = os.path.join(work, "evaluated")
    stage(summary, "evaluate", done, lambda: (both(
        {arm: ["test", cfg, os.path.join(work, arm, f"epoch_{args.det_epochs}.pth"), "--work-dir",
               os.path.join(work, f"eval_{arm}")] for arm, cfg in configs.items()}, "eval", work),
        open(done, "w").close()))
    summary["metrics"] = {arm: json.load(open(os.path.join(work, f"eval_{arm}", "test_metrics.json")))["metrics"]
                          for arm in ARMS}
    ids = [i for i in range(1, args.pictures + 1) if os.path.isfile(os.path.join(work, "eval_mae", "predictions",
                                                                                  f"{i}.png"))]
    summary["picture"] = side_by_side(os.path.join(out, "study_detection.png"), {
        "ground truth": [truth(data, i) for i in ids],
        **{f"{ARMS[arm]} prediction": [os.path.join(work, f"eval_{arm}", "predictions", f"{i}.png") for i in ids]
           for arm in ARMS}})
    publish(summary, save, "detection", argv, out, section)
    for arm, m in summary["metrics"].items():
        print(f"{ARMS[arm]:15s} box AP {100 * m['coco/bbox_mAP']:.1f}  AP50 {100 * m['coco/bbox_mAP_50']:.1f}  "
              f"mask AP {100 * m['coco/segm_mAP']:.1f}  AP50 {100 * m['coco/segm_mAP_50']:.1f}")
    print(json.dumps(summary["seconds"]))


if __name__ == "__main__":
    main()
