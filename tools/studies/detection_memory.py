"""Peak GPU memory of the ViTDet Mask R-CNN: one training step and one inference at a given size,
bf16 autocast, activation checkpointing on and off (`python -m tools.studies.detection_memory`).

Builds the model from a detection config (no checkpoint needed: memory does not depend on the
weights' values), feeds synthetic images with a few boxes and masks each, and reports
`torch.cuda.max_memory_allocated` per setting as a table and JSON.
"""
import argparse
import json
import time

import torch


def synthetic_batch(batch: int, size: int, device, objects: int = 20):
    from mmengine.structures import BaseDataElement, InstanceData

    g = torch.Generator().manual_seed(0)
    images, samples = [], []
    for _ in range(batch):
        images.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g).to(device))
        xy = torch.randint(0, size // 2, (objects, 2), generator=g).float()
        wh = torch.randint(16, size // 2, (objects, 2), generator=g).float()
        boxes = torch.cat([xy, xy + wh], 1)
        masks = torch.zeros(objects, size, size, dtype=torch.uint8)
        for m, (x1, y1, x2, y2) in zip(masks, boxes.long()):
            m[y1:y2, x1:x2] = 1
        s = BaseDataElement(metainfo=dict(img_id=0, ori_shape=(size, size)))
        s.gt_instances = InstanceData(boxes=boxes.to(device), labels=torch.randint(1, 81, (objects,), generator=g)
                                      .to(device), masks=masks.to(device))
        samples.append(s)
    return images, samples


def measure(model, images, samples, train: bool, dtype) -> tuple:
    """(peak GiB, seconds) of one training step (forward + backward) or one inference."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    model.train(train)
    with torch.autocast("cuda", dtype=dtype):
        if train:
            losses = model(images, samples, mode="loss")
            sum(losses.values()).backward()
        else:
            with torch.no_grad():
                model(images, samples, mode="predict")
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    model.zero_grad(set_to_none=True)
    return torch.cuda.max_memory_allocated() / 2 ** 30, seconds


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/detection/mask-rcnn_vit-base-p16_vitdet_100e_coco.py")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)
    from mmengine.config import Config

    import transfer.detection  # noqa: F401
    from pretrain.registry import MODELS

    cfg = Config.fromfile(args.config)
    cfg.model.backbone.net.pretrained = None
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {args.config}, {args.size} px, {args.dtype}")
    rows = []
    for ckpt in (False, True):
        cfg.model.backbone.net.use_act_checkpoint = ckpt
        model = MODELS.build(cfg.model).cuda()
        for batch in args.batch:
            images, samples = synthetic_batch(batch, args.size, "cuda")
            for train in (True, False):
                if not train and ckpt:
                    continue  # checkpointing changes nothing at inference
                measure(model, images, samples, train, dtype)  # warm-up (cuDNN / allocator)
                gib, sec = measure(model, images, samples, train, dtype)
                rows.append(dict(mode="train" if train else "eval", act_checkpoint=ckpt, batch=batch, peak_gib=gib,
                                 seconds=sec))
                print(f"{rows[-1]['mode']:5s} act_ckpt={str(ckpt):5s} batch={batch}  peak {gib:6.2f} GiB  {sec:.3f} s")
        del model
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name(), config=args.config, size=args.size,
                           dtype=args.dtype, rows=rows), f, indent=2)


if __name__ == "__main__":
    main()
