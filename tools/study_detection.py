"""A small detection study: Mask R-CNN with an MAE-pretrained ViT against the same detector from
random initialisation, on a generated COCO-layout set (`python -m tools.study_detection --out DIR`).

1. `make_synthetic_coco` writes the set; 2. `mae train` pretrains an MAE on its training images;
3. `mae train` fine-tunes the detector twice (MAE weights / random), same schedule, in parallel;
4. `mae test` scores both (COCO box and mask AP) and draws predictions; 5. a JSON summary and a PNG
putting the two detectors' pictures side by side. Each job is a config file written into DIR that
inherits from the repository's configs, so the runs are what a user would run.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

PRETRAIN = """_base_ = ['{root}/configs/pretrain/mae_vit-tiny-p8_folder_cpu.py']
base_lr = {base_lr}
max_epochs = {epochs}
warmup_epochs = {warmup}
model = dict(img_size={size}, patch_size=16, embed_dim={dim}, depth={depth}, num_heads={heads},
             decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4, norm_pix_loss=True)
train_dataloader = dict(batch_size={batch}, num_workers={workers}, persistent_workers={persist},
                        dataset=dict(root='{data}/train2017', img_size={size}))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval={epochs}))
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
"""

DETECT = """_base_ = ['{root}/configs/detection/mask-rcnn_vit-tiny_synthetic_cpu.py']
data_root = '{data}/'
img_size = {size}
max_epochs = {epochs}
model = dict(pad_size={size}, anchor_sizes={anchors}, head_channels={head_channels}, head_convs={head_convs},
             fc_dim={fc_dim},
             backbone=dict(out_channels=128, net=dict(img_size={size}, embed_dim={dim}, depth={depth},
                           num_heads={heads}, window_size={window}, global_blocks={globals_}, drop_path_rate=0.1,
                           pretrain_img_size={size}, pretrained={pretrained})),
             detector=dict(box_batch_size_per_image={roi_batch}))
train_dataloader = dict(batch_size={batch}, num_workers={workers}, persistent_workers={persist},
                        dataset=dict(data_root=data_root, img_size={size}, scale_range=(0.3, 1.7)))
val_dataloader = dict(num_workers={workers}, persistent_workers={persist},
                      dataset=dict(data_root=data_root, img_size={size}))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(precision='{precision}', optimizer=dict(lr={lr}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=max_epochs,
         milestones=[int(max_epochs * 0.75), int(max_epochs * 0.92)], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
custom_hooks = [dict(type='PredictionPicturesHook', img_ids={pictures}, score_thr=0.5)]
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
"""


def mae(args, log: str, env=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "tools.cli", *args], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def run(args, log: str) -> None:
    rc = mae(args, log).wait()
    if rc:
        raise SystemExit(f"`mae {' '.join(args)}` failed ({rc}); see {log}")


def side_by_side(path: str, columns: dict) -> str:
    """One PNG at `path`: a column per entry of `columns` (title -> pictures: files or arrays), a row per picture."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = max(len(pics) for pics in columns.values())
    fig, axes = plt.subplots(rows, len(columns), figsize=(4 * len(columns), 4 * rows), squeeze=False)
    for col, (name, pics) in enumerate(columns.items()):
        for row, pic in enumerate(pics):
            ax = axes[row][col]
            ax.imshow(Image.open(pic) if isinstance(pic, str) else pic, interpolation="nearest")
            ax.set_axis_off()
            if row == 0:
                ax.set_title(name)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--val", type=int, default=200)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dim", type=int, default=192)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--pretrain-epochs", type=int, default=100)
    p.add_argument("--det-epochs", type=int, default=12)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=6)
    p.add_argument("--precision", default="auto")
    p.add_argument("--mae-batch", type=int, default=128)
    p.add_argument("--mae-base-lr", type=float, default=1.5e-3, help="lr = this x MAE batch / 256")
    p.add_argument("--head-channels", type=int, default=128, help="box / mask head convolutions' width")
    p.add_argument("--head-convs", type=int, default=2)
    p.add_argument("--fc-dim", type=int, default=512)
    p.add_argument("--roi-batch", type=int, default=256, help="sampled RoIs per image")
    args = p.parse_args(argv)
    out = os.path.abspath(args.out)
    data = os.path.join(out, "data")
    os.makedirs(out, exist_ok=True)
    summary = dict(args=vars(args), seconds={})
    t = time.time()
    if not os.path.isfile(os.path.join(data, "annotations", "instances_val2017.json")):
        from transfer.detection.synthetic import make_synthetic_coco
        make_synthetic_coco(data, args.train, args.val, args.size, args.seed)
    summary["seconds"]["generate"] = time.time() - t
    common = dict(root=ROOT, data=data, size=args.size, dim=args.dim, depth=args.depth, heads=args.heads,
                  workers=args.workers, persist=args.workers > 0)

    t = time.time()
    cfg = os.path.join(out, "pretrain.py")
    with open(cfg, "w") as f:
        f.write(PRETRAIN.format(**common, base_lr=args.mae_base_lr, epochs=args.pretrain_epochs,
                                warmup=args.pretrain_epochs // 10, batch=args.mae_batch))
    run(["train", cfg, "--work-dir", os.path.join(out, "mae")], os.path.join(out, "pretrain.log"))
    summary["seconds"]["pretrain"] = time.time() - t

    t = time.time()
    ckpt = os.path.join(out, "mae", "checkpoint-final.pth")
    pictures = [1, 2, 3]
    from transfer.detection.vitdet import evenly_spaced
    runs = {}
    global_blocks = evenly_spaced(args.depth) if args.depth >= 8 else evenly_spaced(args.depth, 2)
    anchors = tuple(args.size // 16 * 2 ** i for i in range(5))
    for name, pretrained in (("MAE-pretrained", repr(ckpt)), ("random init", "None")):
        key = "mae" if pretrained != "None" else "scratch"
        cfg = os.path.join(out, f"detect_{key}.py")
        with open(cfg, "w") as f:
            f.write(DETECT.format(**common, epochs=args.det_epochs, window=max(2, args.size // 32),
                                  globals_=global_blocks, pretrained=pretrained, batch=args.batch,
                                  precision=args.precision, lr=3e-4, pictures=pictures, anchors=anchors,
                                  head_channels=args.head_channels, head_convs=args.head_convs,
                                  fc_dim=args.fc_dim, roi_batch=args.roi_batch))
        runs[name] = (key, cfg)
    jobs = {name: mae(["train", cfg, "--work-dir", os.path.join(out, key)], os.path.join(out, f"{key}.log"))
            for name, (key, cfg) in runs.items()}
    for name, job in jobs.items():
        if job.wait():
            raise SystemExit(f"detection training '{name}' failed; see {out}/{runs[name][0]}.log")
    summary["seconds"]["detect_train_both"] = time.time() - t

    t = time.time()
    results, work = {}, {}
    for name, (key, cfg) in runs.items():
        work[name] = os.path.join(out, f"eval_{key}")
        ckpt = os.path.join(out, key, f"epoch_{args.det_epochs}.pth")
        run(["test", cfg, ckpt, "--work-dir", work[name]], os.path.join(out, f"eval_{key}.log"))
        with open(os.path.join(work[name], "test_metrics.json")) as f:
            results[name] = json.load(f)["metrics"]
    summary["seconds"]["evaluate"] = time.time() - t
    summary["metrics"] = results
    summary["picture"] = side_by_side(os.path.join(out, "detection_study.png"), {
        name: [os.path.join(w, "predictions", f"{i}.png") for i in pictures] for name, w in work.items()})
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    for name, m in results.items():
        print(f"{name:15s} box AP {100 * m['coco/bbox_mAP']:.1f}  AP50 {100 * m['coco/bbox_mAP_50']:.1f}  "
              f"mask AP {100 * m['coco/segm_mAP']:.1f}  AP50 {100 * m['coco/segm_mAP_50']:.1f}")
    print(json.dumps(summary["seconds"]))


if __name__ == "__main__":
    main()
