"""`mae bench loader`: the training input pipeline as training runs it (decode + RandomResizedCrop
+ flip in N DataLoader workers, pinned memory, prefetch) in images/s, and whether N workers keep
up with a training step of a given time (`--step-time`, `--model-ips`, or measured on ViT-B)."""
import math
import os
import statistics
import tempfile
import time

import torch

from tools.benchmark.measure import header, save_json, setup, timed_alternating, torch_threads
from tools.benchmark.peers import SIZES, build_ours, make_step, ours_call




def write_embedded_jpegs(folder: str, width: int = 500, height: int = 375) -> int:
    from torchvision.io import write_jpeg
    from torchvision.transforms import v2

    from pretrain.data import embedded_images

    imgs = embedded_images()
    for i, img in enumerate(imgs):
        img = v2.functional.resize(img, [height, width], antialias=True)
        write_jpeg(img, os.path.join(folder, f"{i:03d}.jpg"), quality=90)
    return len(imgs)


def per_worker_rate(fn, n: int) -> float:
    for i in range(min(3, n)):
        fn(i)
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


class _Keys(torch.utils.data.Sampler):
    """(epoch, index) keys, as the training sampler (EpochSeedSampler) hands them to the dataset."""

    def __init__(self, n: int, total: int):
        self.n, self.total = n, total

    def __iter__(self):
        return ((0, i % self.n) for i in range(self.total))

    def __len__(self):
        return self.total


def loader_rate(ds, batch: int, workers: int, batches: int, prefetch: int, pin: bool) -> dict:
    """Images/s of a DataLoader as training builds it, after its first batch (worker start-up)."""
    dl = torch.utils.data.DataLoader(ds, batch_size=batch, sampler=_Keys(len(ds), batch * (batches + 1)),
                                     num_workers=workers, pin_memory=pin, drop_last=True,
                                     prefetch_factor=prefetch if workers else None)
    it = iter(dl)
    t0 = time.perf_counter()
    first = next(it)
    t1 = time.perf_counter()
    n = 0
    for b in it:
        n += b["inputs"].shape[0]
    dt = time.perf_counter() - t1
    return {"images_per_s": n / dt if n else 0.0, "first_batch_s": t1 - t0, "images": n,
            "pinned": bool(first["inputs"].is_pinned()) if pin else False}


def run(args) -> dict:
    from pretrain.data import EmbeddedImages, ImageFolder

    device = setup(args)
    out = header(args, device)
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    tmp = None
    if args.data:
        root = args.data
    else:
        tmp = tempfile.TemporaryDirectory(prefix="mae_loader_")
        root = tmp.name
        k = write_embedded_jpegs(root)
        print(f"no --data: wrote the {k} embedded images as 500x375 JPEGs to {root}")
    try:
        ds = ImageFolder(root, img_size=args.img_size)
        n = args.images
        with torch_threads(1):  # as in a DataLoader worker, which runs with one intra-op thread
            decode = per_worker_rate(lambda i: ds.load(i % len(ds)), n)
            full = per_worker_rate(lambda i: ds[(0, i % len(ds))], n)
            emb = EmbeddedImages(img_size=args.img_size, length=n)
            in_memory = per_worker_rate(lambda i: emb[(0, i)], n)
        pin = device.type == "cuda"
        print(f"timing the DataLoader: {workers} worker(s), batch {args.batch}, prefetch {args.prefetch}, "
              f"pinned memory {pin} ...", flush=True)
        dl = loader_rate(ds, args.batch, workers, args.batches, args.prefetch, pin)
    finally:
        if tmp is not None:
            tmp.cleanup()
    out["loader"] = {"data": args.data or "embedded images as 500x375 JPEG", "files": len(ds), "images": n,
                     "decode_per_worker": decode, "decode_crop_flip_per_worker": full,
                     "embedded_crop_flip_per_worker": in_memory, "dataloader": dl}
    if args.step_time:
        model_ips, how = args.batch / args.step_time, f"given: --step-time {args.step_time} s at batch {args.batch}"
    elif args.model_ips:
        model_ips, how = args.model_ips, "given by --model-ips"
    else:
        print(f"measuring ours at ViT-B, batch {args.batch}, {args.precision} ...", flush=True)
        args.decoder_depth, args.decoder_width = 8, 512
        model, opt = build_ours(SIZES["base"], args, device)
        x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
        res = timed_alternating({"ours": make_step(model, opt, ours_call, args.precision, device, x)},
                                1, args.model_steps, device)
        model_ips = args.batch / statistics.median(res["ours"]["times"])
        how = f"measured: ViT-B, batch {args.batch}, {args.precision}, {device.type}, {torch.get_num_threads()} threads"
    loader_ips = dl["images_per_s"]
    out["model"] = {"images_per_s": model_ips, "how": how}
    out["workers"] = workers
    out["workers_needed"] = math.ceil(model_ips / full)
    out["keeps_up"] = loader_ips >= model_ips
    out["bottleneck"] = "model" if out["keeps_up"] else "loader"
    print(f"per worker: decode {decode:.1f} img/s, decode+crop+flip {full:.1f} img/s, "
          f"in-memory crop+flip {in_memory:.1f} img/s")
    print(f"DataLoader ({workers} workers, pinned {dl['pinned']}): {loader_ips:.1f} img/s "
          f"(first batch {dl['first_batch_s']:.2f} s)")
    print(f"training step: {model_ips:.2f} img/s ({how})")
    print(f"verdict: {workers} worker(s) {'keep' if out['keeps_up'] else 'do NOT keep'} up "
          f"({loader_ips / model_ips:.2f}x the step's rate); ~{out['workers_needed']} worker(s) needed at "
          f"{full:.1f} img/s each: the {out['bottleneck']} is the bottleneck"
          + (" (workers share the CPU cores with the model step here)" if device.type == "cpu" else ""))
    save_json(args.json, out)
    return out
