"""Helpers of tools/studies/gpu_bench.sh, each a subcommand of
`python -m tools.benchmark.gpu_report`:

jpegs DIR N LINKS     write N generated 500x375 JPEGs (smooth colour fields + noise, so they decode
                      like photos rather than flat colour) and LINKS symlinks to each, so one
                      epoch of a real `mae train` is long enough to time without epoch-end work
train-speed WORKDIR BATCH JSON   img/s and data time of a `mae train` run from its scalars.json
summary OUT           the table of every figure the GPU script produced
"""
import glob
import json
import os
import statistics
import sys


def make_jpegs(folder: str, n: int, links: int) -> int:
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    h, w = 375, 500
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        f = rng.uniform(0.005, 0.05, size=(3, 2))
        ph = rng.uniform(0, 6.3, size=3)
        img = np.stack([np.sin(xx * f[c, 0] + yy * f[c, 1] + ph[c]) for c in range(3)], -1) * 90 + 128
        img += rng.normal(0, 12, size=img.shape)
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(os.path.join(folder, f"img{i:04d}.jpg"), quality=90)
    for k in range(links):
        sub = os.path.join(folder, f"link{k:03d}")
        os.makedirs(sub, exist_ok=True)
        for i in range(n):
            os.symlink(os.path.join("..", f"img{i:04d}.jpg"), os.path.join(sub, f"img{i:04d}.jpg"))
    return n * (links + 1)


def train_speed(work_dir: str, batch: int, skip: int = 2) -> dict:
    """From mmengine's scalars.json (one line per logged iteration, `time` and `data_time` means
    over the log window): the median after the first `skip` lines (start-up and warm-up)."""
    files = sorted(glob.glob(os.path.join(work_dir, "*", "vis_data", "scalars.json")))
    if not files:
        return {"error": f"no scalars.json under {work_dir}"}
    rows = [json.loads(line) for line in open(files[-1]) if line.strip()]
    rows = [r for r in rows if "time" in r]
    used = rows[skip:] if len(rows) > skip else rows
    if not used:
        return {"error": "no logged iterations"}
    t = statistics.median(r["time"] for r in used)
    d = statistics.median(r["data_time"] for r in used)
    return {"images_per_s": batch / t, "step_s_median": t, "data_time_s_median": d,
            "data_time_s_max": max(r["data_time"] for r in used), "logged": len(rows), "used": len(used),
            "last_iter": rows[-1].get("iter") if rows else None, "scalars": files[-1]}


def _load(out: str, name: str):
    p = os.path.join(out, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None


def _results(out: str) -> list:
    """(name, result) of every benchmark JSON under `out`; other files (logs, JSON lines) skipped."""
    res = []
    for p in sorted(glob.glob(os.path.join(out, "*.json"))):
        try:
            res.append((os.path.basename(p)[:-5], json.load(open(p))))
        except ValueError:
            continue
    return res


def summary(out: str) -> None:
    print("\n== summary (bf16; img/s from median steps; MFU = model FLOP/s over the measured matmul peak)")
    print(f"{'run':34}{'ours img/s':>11}{'MFU':>7}{'hf img/s':>10}{'ours/hf':>9}{'official':>10}{'ours/off':>10}"
          f"{'ours/eager':>11}{'idle':>6}")
    for name, d in _results(out):
        if "ours" not in d or not isinstance(d["ours"], dict):
            continue
        o, r = d["ours"], d.get("ratios", {})

        def side(k):
            return (f"{d[k]['images_per_s']:10.1f}", f"{r[k]['images_per_s']:8.2f}x") if k in r else (
                f"{'-':>10}", f"{'-':>9}")
        hf, off = side("hf"), side("official")
        eager = f"{r['ours_eager']['images_per_s']:10.2f}x" if "ours_eager" in r else f"{'-':>11}"
        idle = o.get("profile", {}).get("gpu_idle_share")
        print(f"{name:34}{o['images_per_s']:11.1f}{o['mfu_of_measured_matmul_peak']:7.1%}{hf[0]}{hf[1]}"
              f"{off[0]}{off[1]}{eager}" + (f"{idle:6.0%}" if idle is not None else ""))
        peak = next(iter(d["matmul_peak"].values()))
    if "peak" in locals():
        print(f"matmul peak ({peak['size']}^3 {peak['dtype']}): {peak['flops_per_s'] / 1e12:.0f} TFLOP/s")
    for name, d in _results(out):
        for k in ("ours", "hf", "official"):
            prof = d.get(k, {}).get("profile") if isinstance(d.get(k), dict) else None
            if prof and "gpu_idle_share" in prof:
                split = " ".join(f"{f} {v:.0%}" for f, v in prof["share"].items())
                print(f"profile {name} {k}: {prof['total_s'] * 1e3:.0f} ms kernels in "
                      f"{prof['wall_s'] * 1e3:.0f} ms wall per step, GPU idle {prof['gpu_idle_share']:.0%}; {split}")
    t2 = _load(out, "table2_b256")
    for row in (t2 or {}).get("rows", []):
        print(f"Table 2 ViT-{row['model'][0].upper()} dec {row['decoder_depth']}, batch {t2['config']['batch']}: "
              f"speedup {row['speedup']:.2f}x (paired {row['speedup_paired_median']:.2f}x; FLOPs ratio "
              f"{row['flops_ratio']:.2f}x; paper 2.8x)")
    tr, ld = _load(out, "train_speed"), _load(out, "train_loader")
    if tr and "images_per_s" in tr:
        b = _load(out, tr.get("bench_run", ""))
        ref = b["ours"]["images_per_s"] if b else None
        print(f"mae train ({tr.get('what', '')}): {tr['images_per_s']:.1f} img/s, step {tr['step_s_median']:.3f} s, "
              f"data time median {tr['data_time_s_median']:.3f} s (max {tr['data_time_s_max']:.3f}), "
              f"{tr['used']} logged windows" + (f"; train / bench {tr['images_per_s'] / ref:.2f} (target >= 0.90)"
                                               if ref else ""))
    elif tr:
        print(f"mae train: {tr.get('error')}")
    if ld:
        print(f"loader: {ld['workers']} workers {ld['loader']['dataloader']['images_per_s']:.0f} img/s vs the step's "
              f"{ld['model']['images_per_s']:.0f} img/s: {'keeps up' if ld['keeps_up'] else 'does NOT keep up'} "
              f"(per worker {ld['loader']['decode_crop_flip_per_worker']:.0f} img/s; {ld['model']['how']})")


def main(argv) -> int:
    cmd, rest = argv[0], argv[1:]
    if cmd == "jpegs":
        print(f"wrote {make_jpegs(rest[0], int(rest[1]), int(rest[2]))} image entries under {rest[0]}")
    elif cmd == "train-speed":
        res = train_speed(rest[0], int(rest[1]))
        res.update(what=rest[3] if len(rest) > 3 else "", bench_run=rest[4] if len(rest) > 4 else "")
        with open(rest[2], "w") as f:
            json.dump(res, f, indent=2)
        print(json.dumps(res))
    elif cmd == "summary":
        summary(rest[0])
    elif cmd == "step-time":  # median step of `ours` in a pretrain result, for the loader verdict
        print(f"{json.load(open(rest[0]))['ours']['step_s_median']:.5f}")
    else:
        raise SystemExit(f"unknown subcommand {cmd!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
