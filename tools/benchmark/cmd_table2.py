"""`mae bench table2`: the paper's Table 2 on our code: speedup of the encoder without mask tokens
over the encoder with mask tokens (`encoder_mask_tokens=True`), the FLOPs ratio and the memory ratio."""
import gc
import os
import statistics

import torch

from tools.benchmark.flops import mae_forward_flops
from tools.benchmark.measure import fmt_bytes, header, paired_ratio, ratio, save_json, setup, step_memory, \
    summarize, timed_alternating
from tools.benchmark.peers import SIZES, build_ours, make_step, ours_call




def run(args) -> dict:
    device = setup(args)
    out = header(args, device)
    out["config"] = {k: getattr(args, k) for k in ("models", "decoder_depths", "batch", "img_size", "mask_ratio",
                                                     "decoder_width", "precision", "steps", "warmup", "seed")}
    rows = []
    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    for size in args.models.split(","):
        arch = SIZES[size.strip()]
        for depth in (int(d) for d in args.decoder_depths.split(",")):
            print(f"{arch}, decoder {depth}x{args.decoder_width}, batch {args.batch}, {args.precision}:", flush=True)
            torch.manual_seed(args.seed)
            a, a_opt = build_ours(arch, args, device, encoder_mask_tokens=False, decoder_depth=depth)
            b, b_opt = build_ours(arch, args, device, encoder_mask_tokens=True, decoder_depth=depth)
            steps = {"without": make_step(a, a_opt, ours_call, args.precision, device, x),
                     "with_mask_tokens": make_step(b, b_opt, ours_call, args.precision, device, x)}
            res = timed_alternating(steps, args.warmup, args.steps, device)
            mem = {"without": step_memory(steps["without"], a, device),
                   "with_mask_tokens": step_memory(steps["with_mask_tokens"], b, device)}
            ta, tb = res["without"]["times"], res["with_mask_tokens"]["times"]
            fa = mae_forward_flops(arch, args.img_size, args.mask_ratio, args.decoder_width, depth)
            fb = mae_forward_flops(arch, args.img_size, args.mask_ratio, args.decoder_width, depth, True)
            row = {"model": size, "arch": arch, "decoder_depth": depth,
                   "with_mask_tokens": summarize(tb, args.batch), "without": summarize(ta, args.batch),
                   "speedup": statistics.median(tb) / statistics.median(ta),
                   "speedup_paired_median": paired_ratio(tb, ta), "speedup_min_step": min(tb) / min(ta),
                   "flops_ratio": fb / fa,
                   "memory_with_mask_tokens": mem["with_mask_tokens"], "memory_without": mem["without"]}
            row["activation_memory_ratio"] = ratio(mem["with_mask_tokens"], mem["without"], "activation_bytes")
            row["memory_ratio"] = ratio(mem["with_mask_tokens"], mem["without"], "training_bytes")
            rows.append(row)
            del a, b, a_opt, b_opt, steps
            gc.collect()
    out["rows"] = rows
    print_table2(out)
    save_json(args.json, out)
    if args.png:
        plot_table2(rows, args.png, out["machine"], args)
    return out


def print_table2(out: dict) -> None:
    print(f"{'encoder':9}{'dec':>4}{'w/ [M] s':>10}{'w/o [M] s':>11}{'speedup':>9}{'paired':>8}{'fastest':>8}"
          f"{'FLOPs ratio':>12}{'act w/ [M]':>12}{'act w/o':>10}{'act ratio':>10}{'train mem ratio':>16}")
    for r in out["rows"]:
        mr = f"{r['memory_ratio']:.2f}x" if r["memory_ratio"] else "n/a"
        ar = f"{r['activation_memory_ratio']:.2f}x" if r["activation_memory_ratio"] else "n/a"
        print(f"{'ViT-' + r['model'][0].upper():9}{r['decoder_depth']:4}"
              f"{r['with_mask_tokens']['step_s_median']:10.3f}{r['without']['step_s_median']:11.3f}"
              f"{r['speedup']:8.2f}x{r['speedup_paired_median']:7.2f}x{r['speedup_min_step']:7.2f}x{r['flops_ratio']:11.2f}x"
              f"{fmt_bytes(r['memory_with_mask_tokens']['activation_bytes']):>12}"
              f"{fmt_bytes(r['memory_without']['activation_bytes']):>10}{ar:>10}{mr:>16}")
    if out["rows"]:
        print(f"memory: {out['rows'][0]['memory_without']['method']}; train mem = that + weights, grads, "
              f"AdamW moments")


def plot_table2(rows: list, path: str, machine: dict, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"ViT-{r['model'][0].upper()}\ndec {r['decoder_depth']}" for r in rows]
    xs = range(len(rows))
    fig, ax = plt.subplots(figsize=(1.6 * len(rows) + 2, 3.6))
    w = 0.2
    bars = [("speedup (wall clock)", [r["speedup"] for r in rows]),
            ("FLOPs ratio", [r["flops_ratio"] for r in rows]),
            ("activation memory ratio", [r["activation_memory_ratio"] or 0 for r in rows]),
            ("training memory ratio", [r["memory_ratio"] or 0 for r in rows])]
    for j, (name, vals) in enumerate(bars):
        b = ax.bar([i + (j - 1.5) * w for i in xs], vals, w, label=name)
        ax.bar_label(b, fmt="%.1f", fontsize=7)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("encoder with mask tokens / without")
    ax.set_title(f"MAE Table 2 on {machine.get('gpu') or machine.get('cpu', 'cpu')} "
                 f"({args.precision}, batch {args.batch})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")

