"""Speed benchmarks: `mae bench pretrain | table2 | loader | precision` (also `python -m tools.benchmark ...`).

pretrain  our MAE training step against the Hugging Face `ViTMAEForPreTraining` peer of the same
          architecture, timed steps alternating between the two in one process (so a noisy,
          shared machine slows both alike); images/s, step-time spread, training memory, the
          ratio ours/peer, and model FLOP/s as a fraction of a matrix-product peak measured in
          the same run.
table2    the paper's Table 2 on our code: speedup of the encoder without mask tokens over the
          encoder with mask tokens (`encoder_mask_tokens=True`), and the memory ratio.
loader    decode + RandomResizedCrop + flip images/s per worker, against the model's images/s.
precision the demo's training loss under bf16 autocast against fp32 (tools/precision_check.py).

A step is forward + backward + optimiser step + zero_grad, on random inputs.

Memory. `activation_bytes` is the peak one training step adds on top of what is resident before
it, measured with the gradient buffers already allocated, so it is activations + temporaries: on
CUDA the growth of `torch.cuda.max_memory_allocated`; on the CPU the growth of the process's peak
resident set (VmHWM, reset through /proc/self/clear_refs after `malloc_trim`), allocator slack
included. It is measured in one extra step per model after the timed ones, so it never disturbs
the timings. `state_bytes` = weights + gradients + AdamW's two moments (4 x the trainable
parameter bytes), counted; `training_bytes` = state + activations.
"""
import argparse
import contextlib
import ctypes
import datetime
import gc
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from typing import Callable, Optional

import torch

SIZES = {"tiny": "mae_vit_tiny_patch16", "small": "mae_vit_small_patch16", "base": "mae_vit_base_patch16",
         "large": "mae_vit_large_patch16", "huge": "mae_vit_huge_patch14"}
LR, WD, BETAS = 1.5e-4, 0.05, (0.9, 0.95)


# ---- machine, FLOPs, matmul peak ------------------------------------------------------------------
def machine_info(device: torch.device, threads: int) -> dict:
    info = {"torch": torch.__version__, "python": platform.python_version(), "device": device.type,
            "threads": threads, "cpu_count": os.cpu_count()}
    try:
        txt = open("/proc/cpuinfo").read()
        m = re.search(r"model name\s*:\s*(.*)", txt)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
        f = re.search(r"flags\s*:\s*(.*)", txt)
        flags = set(f.group(1).split()) if f else set()
        info["cpu_flags"] = sorted(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags)
    except OSError:
        info["cpu"] = platform.processor()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def block_flops(tokens: int, dim: int, depth: int, mlp_ratio: float = 4.0) -> float:
    """Forward FLOPs of `depth` pre-norm transformer blocks: qkv + proj + MLP matmuls
    ((4 + 2r) d^2 multiply-adds per token) and attention (QK^T and AV: 2 t^2 d multiply-adds)."""
    per_block = 2 * tokens * (4 + 2 * mlp_ratio) * dim * dim + 4 * tokens * tokens * dim
    return depth * per_block


def mae_forward_flops(arch: str, img_size: int = 224, mask_ratio: float = 0.75, decoder_embed_dim: int = 512,
                      decoder_depth: int = 8, encoder_mask_tokens: bool = False, in_chans: int = 3) -> float:
    """Model FLOPs of one image's forward pass, counted from the architecture (matmuls only):
    patch projection on the visible patches (removed ones enter the mask-token variant as a
    learned token), encoder on the visible patches + cls (all patches with mask tokens),
    decoder embedding, decoder on all patches + cls, prediction head on all patches (as the
    reference code computes it). Training = 3x this (backward = 2x forward)."""
    from pretrain.mae import MAE_ARCHS
    from pretrain.masking import num_keep

    dim, depth, _, p = MAE_ARCHS[arch]
    n = (img_size // p) ** 2
    enc = n if encoder_mask_tokens else num_keep(n, mask_ratio)
    f = 2 * num_keep(n, mask_ratio) * in_chans * p * p * dim
    f += block_flops(1 + enc, dim, depth)
    f += 2 * (1 + enc) * dim * decoder_embed_dim
    f += block_flops(1 + n, decoder_embed_dim, decoder_depth)
    f += 2 * n * decoder_embed_dim * p * p * in_chans
    return float(f)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(precision: str, device: torch.device, n: int = 2048, seconds: float = 1.0) -> dict:
    """FLOP/s of an n x n matrix product at the step's dtype, measured now on this device.

    On a CPU without native bf16 (AVX2 only) bf16 products are emulated and ~100x slower, so the
    size drops to 512 there to keep the measurement short; the size used is recorded."""
    from pretrain.optim import bf16_supported

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if device.type == "cpu" and precision != "fp32" and not bf16_supported("cpu"):
        n = min(n, 512)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)
    sync(device)
    t = time.perf_counter()
    torch.mm(a, b)
    sync(device)
    once = max(time.perf_counter() - t, 1e-6)
    reps = max(2, min(200, int(seconds / once)))
    best = float("inf")
    for _ in range(3):
        sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        sync(device)
        best = min(best, (time.perf_counter() - t) / reps)
    return {"size": n, "dtype": precision, "flops_per_s": 2 * n ** 3 / best,
            "note": "best of 3 timed loops of torch.mm at this dtype, same process"}


# ---- memory ----------------------------------------------------------------------------------------
def _proc_kib(field: str) -> Optional[int]:
    try:
        m = re.search(field + r":\s+(\d+)", open("/proc/self/status").read())
        return int(m.group(1)) if m else None
    except OSError:
        return None


def _malloc_trim() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.restype = ctypes.c_int
        libc.malloc_trim(ctypes.c_size_t(0))
    except (OSError, AttributeError):
        pass


def step_memory(step: Callable[[], object], model: torch.nn.Module, device: torch.device) -> dict:
    """Activation peak of one step, plus counted state (see module docstring)."""
    params = [p for p in model.parameters() if p.requires_grad]
    state = 4 * sum(p.numel() * p.element_size() for p in params)
    for p in params:  # gradient buffers exist before the step, so the peak is activations only
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    act = _activation_peak(step, device)
    return {"activation_bytes": act["bytes"], "state_bytes": state,
            "training_bytes": None if act["bytes"] is None else state + act["bytes"], "method": act["method"]}


def _activation_peak(step: Callable[[], object], device: torch.device) -> dict:
    gc.collect()
    if device.type == "cuda":
        sync(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        sync(device)
        return {"bytes": torch.cuda.max_memory_allocated(device) - base,
                "method": "activations: cuda max_memory_allocated growth over one step (gradients preallocated)"}
    _malloc_trim()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (peak RSS) to the current RSS
        base = _proc_kib("VmRSS")
        step()
        peak = _proc_kib("VmHWM")
        return {"bytes": (peak - base) * 1024,
                "method": "activations: peak RSS (VmHWM) growth over one step after malloc_trim (gradients preallocated)"}
    except (OSError, TypeError):
        return {"bytes": None, "method": "unavailable (no writable /proc/self/clear_refs)"}


# ---- models and steps ------------------------------------------------------------------------------
def build_ours(arch: str, args, device, encoder_mask_tokens: bool = False, decoder_depth: Optional[int] = None):
    from pretrain.mae import build_mae
    from pretrain.optim import build_adamw

    model = build_mae(arch, img_size=args.img_size, decoder_embed_dim=args.decoder_width,
                      decoder_depth=args.decoder_depth if decoder_depth is None else decoder_depth,
                      decoder_num_heads=16, mask_ratio=args.mask_ratio,
                      encoder_mask_tokens=encoder_mask_tokens).to(device)
    opt = build_adamw(model, LR, WD, BETAS)
    return model, opt


def peer_available() -> Optional[str]:
    """None if the Hugging Face ViTMAE peer can be built, else why not (one line)."""
    try:
        from transformers import ViTMAEConfig, ViTMAEForPreTraining  # noqa: F401
    except Exception as e:  # ImportError, or a broken install
        return f"{type(e).__name__}: {e}".splitlines()[0]
    return None


def build_peer(arch: str, args, device):
    """`ViTMAEForPreTraining` with our architecture, SDPA attention and stock torch AdamW, as a
    user of that library would train it."""
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    from pretrain.mae import MAE_ARCHS

    dim, depth, heads, p = MAE_ARCHS[arch]
    cfg = ViTMAEConfig(hidden_size=dim, num_hidden_layers=depth, num_attention_heads=heads,
                       intermediate_size=4 * dim, patch_size=p, image_size=args.img_size,
                       decoder_hidden_size=args.decoder_width, decoder_num_hidden_layers=args.decoder_depth,
                       decoder_num_attention_heads=16, decoder_intermediate_size=4 * args.decoder_width,
                       mask_ratio=args.mask_ratio, norm_pix_loss=False, attn_implementation="sdpa")
    model = ViTMAEForPreTraining(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, weight_decay=WD)
    return model, opt


def make_step(model, opt, call: Callable, precision: str, device: torch.device, x: torch.Tensor) -> Callable:
    """One training step: forward (autocast at `precision`) + backward + optimiser step + zero_grad."""
    from pretrain.optim import autocast_for

    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def step():
        with autocast_for(precision, device.type):
            loss = call(model, x)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    return step


def ours_call(model, x):
    return model(x)[0]


def peer_call(model, x):
    return model(pixel_values=x).loss


def summarize(times: list, batch: int) -> dict:
    med = statistics.median(times)
    q = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else [times[0]] * 3
    return {"images_per_s": batch / med, "step_s_median": med, "step_s_q1": q[0], "step_s_q3": q[2],
            "step_s_iqr": q[2] - q[0], "step_s_min": min(times), "step_s_max": max(times), "steps": len(times),
            "step_s_all": times}


def timed_alternating(steps: dict, n_warmup: int, n_steps: int, device: torch.device, log=print) -> dict:
    """Warm-up, then timed steps alternating over `steps` (name -> fn) in ABBA order so drift
    and turn order hit every entry alike. Returns name -> (warm-up times, timed times, last loss)."""
    names = list(steps)
    out = {k: {"warmup_s": [], "times": [], "loss": None} for k in names}
    for i in range(n_warmup + n_steps):
        order = names if i % 2 == 0 else names[::-1]
        for k in order:
            sync(device)
            t = time.perf_counter()
            loss = steps[k]()
            sync(device)
            dt = time.perf_counter() - t
            out[k]["warmup_s" if i < n_warmup else "times"].append(dt)
            out[k]["loss"] = float(loss.detach())
        phase = "warm-up" if i < n_warmup else "step"
        log(f"  {phase} {i + 1 if i < n_warmup else i + 1 - n_warmup}: " + "  ".join(
            f"{k} {out[k]['warmup_s' if i < n_warmup else 'times'][-1]:.3f}s" for k in names), flush=True)
    return out


def paired_ratio(num: list, den: list) -> float:
    """Median over alternating pairs of num[i] / den[i] (robust to drift over the run)."""
    return statistics.median(a / b for a, b in zip(num, den))


def fmt_bytes(b) -> str:
    return "n/a" if b is None else f"{b / 2 ** 20:,.0f} MiB"


def setup(args) -> torch.device:
    from pretrain.optim import resolve_precision

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda given but no CUDA device is available")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.precision = resolve_precision(args.precision, device.type)
    if getattr(args, "peer_precision", None) is not None:
        args.peer_precision = resolve_precision(args.peer_precision, device.type)
    torch.manual_seed(args.seed)
    return device


def save_json(path: Optional[str], data: dict) -> None:
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
    print(f"wrote {path}")


def header(args, device) -> dict:
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": "python -m tools.benchmark " + " ".join(args.argv),
            "machine": machine_info(device, torch.get_num_threads())}


# ---- pretrain ----------------------------------------------------------------------------------------
def cmd_pretrain(args) -> dict:
    device = setup(args)
    if args.peer_precision is None:
        args.peer_precision = args.precision
    arch = SIZES[args.model]
    why = None if args.no_peer else peer_available()
    use_peer = not args.no_peer and why is None
    if why is not None:
        print(f"peer unavailable ({why}); install the 'bench' extra (pip install transformers) to compare. "
              f"Running ours only.")

    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    model, opt = build_ours(arch, args, device)
    fwd = model
    if args.compile:
        fwd = torch.compile(model)
    steps = {"ours": make_step(fwd, opt, ours_call, args.precision, device, x)}
    models = {"ours": model}
    if use_peer:
        peer, peer_opt = build_peer(arch, args, device)
        steps["peer"] = make_step(peer, peer_opt, peer_call, args.peer_precision, device, x)
        models["peer"] = peer
    print(f"MAE pretraining step: {arch}, batch {args.batch}, {args.img_size}px, mask {args.mask_ratio}, "
          f"decoder {args.decoder_depth}x{args.decoder_width}, {device.type} ({torch.get_num_threads()} threads), "
          f"ours {args.precision}{' compiled' if args.compile else ''}"
          + (f" vs peer {args.peer_precision}" if use_peer else ""), flush=True)
    res = timed_alternating(steps, args.warmup, args.steps, device)

    train_flops = 3 * mae_forward_flops(arch, args.img_size, args.mask_ratio, args.decoder_width,
                                        args.decoder_depth) * args.batch
    peaks = {p: matmul_peak(p, device, args.matmul_size) for p in {args.precision, args.peer_precision if use_peer else args.precision}}
    out = header(args, device)
    out["config"] = {k: getattr(args, k) for k in ("model", "batch", "img_size", "mask_ratio", "decoder_depth",
                                                     "decoder_width", "precision", "peer_precision", "compile",
                                                     "steps", "warmup", "seed")}
    out["config"]["arch"] = arch
    out["model_flops_per_step"] = train_flops
    out["matmul_peak"] = peaks
    for k, prec in (("ours", args.precision), ("peer", args.peer_precision)):
        if k not in steps:
            out[k] = None
            continue
        s = summarize(res[k]["times"], args.batch)
        s.update(warmup_s=res[k]["warmup_s"], loss=res[k]["loss"], precision=prec,
                 model_flops_per_s=train_flops / s["step_s_median"])
        s["mfu_of_measured_matmul_peak"] = s["model_flops_per_s"] / peaks[prec]["flops_per_s"]
        s["memory"] = step_memory(steps[k], models[k], device)
        if args.profile:
            s["profile"] = profile_step(steps[k], device)
        out[k] = s
    out["peer_name"] = "transformers.ViTMAEForPreTraining (sdpa) + torch.optim.AdamW" if use_peer else None
    out["peer_unavailable"] = why
    if use_peer:
        out["peer_attn_implementation"] = peer.config._attn_implementation
        out["ratio_ours_over_peer"] = {
            "images_per_s": out["ours"]["images_per_s"] / out["peer"]["images_per_s"],
            "paired_median": paired_ratio(res["peer"]["times"], res["ours"]["times"]),
            "min_step": min(res["peer"]["times"]) / min(res["ours"]["times"]),
            "activation_memory": _ratio(out["ours"]["memory"], out["peer"]["memory"], "activation_bytes"),
            "training_memory": _ratio(out["ours"]["memory"], out["peer"]["memory"], "training_bytes")}
    print_pretrain(out)
    save_json(args.json, out)
    return out


def _ratio(a: dict, b: dict, key: str) -> Optional[float]:
    return a[key] / b[key] if a[key] and b[key] else None


def profile_step(step: Callable[[], object], device: torch.device) -> dict:
    """Where one step's time goes, by kind of op (torch.profiler, one step after the timed ones).

    Self times, so nothing is counted twice: matrix products (mm/addmm/bmm, which include the
    linear layers' backward), attention kernels, the optimiser (everything under its step and
    zero_grad), and the rest (element-wise ops, norms, copies, autograd bookkeeping)."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        step()
        sync(device)
    events = prof.key_averages()
    use_cuda = device.type == "cuda"

    def self_us(e):
        return (e.self_device_time_total if use_cuda else e.self_cpu_time_total)

    total = sum(self_us(e) for e in events)
    optim = sum((e.device_time_total if use_cuda else e.cpu_time_total) for e in events
                if e.key.startswith("Optimizer.step#") or e.key.startswith("Optimizer.zero_grad#"))
    matmul = sum(self_us(e) for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"))
    attention = sum(self_us(e) for e in events if "scaled_dot_product" in e.key or "flash_attention" in e.key)
    other = max(0.0, total - optim - matmul - attention)
    return {"total_s": total / 1e6, "share": {"matmul": matmul / total, "attention": attention / total,
                                              "optimizer": optim / total, "other": other / total}}


def print_profile(out: dict) -> None:
    rows = [k for k in ("ours", "peer") if out.get(k) and out[k].get("profile")]
    if not rows:
        return
    kinds = ("matmul", "attention", "optimizer", "other")
    print("time by kind of op (one profiled step; seconds, share):")
    print(f"{'':6}{'total':>8}" + "".join(f"{k:>18}" for k in kinds))
    for r in rows:
        pr = out[r]["profile"]
        print(f"{r:6}{pr['total_s']:8.2f}" + "".join(
            f"{pr['total_s'] * pr['share'][k]:10.2f} ({pr['share'][k]:4.0%})" for k in kinds))


def print_pretrain(out: dict) -> None:
    rows = [k for k in ("ours", "peer") if out.get(k)]
    print(f"{'':6}{'img/s':>9}{'median s':>10}{'IQR s':>8}{'min..max s':>15}{'activations':>12}"
          f"{'train mem':>11}{'GFLOP/s':>9}{'of peak':>9}")
    for k in rows:
        s = out[k]
        print(f"{k:6}{s['images_per_s']:9.2f}{s['step_s_median']:10.3f}{s['step_s_iqr']:8.3f}"
              f"{s['step_s_min']:7.3f}..{s['step_s_max']:<6.3f}{fmt_bytes(s['memory']['activation_bytes']):>12}"
              f"{fmt_bytes(s['memory']['training_bytes']):>11}"
              f"{s['model_flops_per_s'] / 1e9:9.1f}{s['mfu_of_measured_matmul_peak']:9.1%}")
    for p, v in out["matmul_peak"].items():
        print(f"matmul peak {v['size']}x{v['size']} {p}: {v['flops_per_s'] / 1e9:.1f} GFLOP/s")
    r = out.get("ratio_ours_over_peer")
    if r:
        act, tr = (f"{r[k]:.2f}x" if r[k] else "n/a" for k in ("activation_memory", "training_memory"))
        print(f"ours/peer: {r['images_per_s']:.2f}x img/s from median steps (paired median {r['paired_median']:.2f}x, "
              f"fastest steps {r['min_step']:.2f}x); activation memory {act}, training memory {tr}")
    print(f"memory: {out[rows[0]]['memory']['method']}; train mem = that + weights, grads, AdamW moments")
    print_profile(out)


# ---- table2 ----------------------------------------------------------------------------------------
def cmd_table2(args) -> dict:
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
            row["activation_memory_ratio"] = _ratio(mem["with_mask_tokens"], mem["without"], "activation_bytes")
            row["memory_ratio"] = _ratio(mem["with_mask_tokens"], mem["without"], "training_bytes")
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


# ---- loader ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def write_embedded_jpegs(folder: str, width: int = 500, height: int = 375) -> int:
    from torchvision.io import write_jpeg
    from torchvision.transforms import v2

    from pretrain.data import embedded_images

    imgs = embedded_images()
    for i, img in enumerate(imgs):
        img = v2.functional.resize(img, [height, width], antialias=True)
        write_jpeg(img, os.path.join(folder, f"{i:03d}.jpg"), quality=90)
    return len(imgs)


def per_worker_rate(fn: Callable[[int], object], n: int) -> float:
    for i in range(min(3, n)):
        fn(i)
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


def cmd_loader(args) -> dict:
    from pretrain.data import EmbeddedImages, ImageFolder

    device = setup(args)
    out = header(args, device)
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
    finally:
        if tmp is not None:
            tmp.cleanup()
    out["loader"] = {"data": args.data or "embedded images as 500x375 JPEG", "files": len(ds), "images": n,
                     "decode_per_worker": decode, "decode_crop_flip_per_worker": full,
                     "embedded_crop_flip_per_worker": in_memory}
    if args.model_ips:
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
    workers = args.workers or max(1, (os.cpu_count() or 1))
    needed = math.ceil(model_ips / full)
    out["model"] = {"images_per_s": model_ips, "how": how}
    out["workers"] = workers
    out["workers_needed"] = needed
    out["bottleneck"] = "loader" if full * workers < model_ips else "model"
    print(f"per worker: decode {decode:.1f} img/s, decode+crop+flip {full:.1f} img/s, "
          f"in-memory crop+flip {in_memory:.1f} img/s")
    print(f"model (ViT-B step): {model_ips:.2f} img/s ({how})")
    print(f"{workers} worker(s) give ~{full * workers:.1f} img/s; {needed} worker(s) keep up with the model: "
          f"the {out['bottleneck']} is the bottleneck"
          + (" (workers share the CPU cores with the model step here)" if device.type == "cpu" else ""))
    save_json(args.json, out)
    return out


# ---- command line ------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mae bench", description="speed benchmarks for MAE pretraining")
    sub = p.add_subparsers(dest="bench", required=True)

    def common(s, batch, steps, warmup):
        s.add_argument("--batch", type=int, default=batch)
        s.add_argument("--img-size", type=int, default=224)
        s.add_argument("--mask-ratio", type=float, default=0.75)
        s.add_argument("--decoder-width", type=int, default=512)
        s.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16", "fp16"),
                       help="autocast precision of our step (fp16: CUDA only; auto: bf16 where it is fast)")
        s.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
        s.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
        s.add_argument("--steps", type=int, default=steps, help="timed steps per model")
        s.add_argument("--warmup", type=int, default=warmup, help="untimed warm-up steps per model")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--json", default=None, help="write the results here")
        s.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak measurement")

    s = sub.add_parser("pretrain", help="our training step against the transformers ViTMAE peer")
    s.add_argument("--model", default="base", choices=sorted(SIZES))
    s.add_argument("--decoder-depth", type=int, default=8)
    s.add_argument("--peer-precision", default=None, choices=("auto", "fp32", "bf16", "fp16"),
                   help="peer's autocast precision (default: the same as --precision)")
    s.add_argument("--compile", action="store_true", help="torch.compile our model")
    s.add_argument("--no-peer", action="store_true", help="time ours only")
    s.add_argument("--profile", action="store_true",
                   help="also profile one step of each: time in matmuls, attention, optimiser, the rest")
    common(s, batch=8, steps=5, warmup=2)
    s.set_defaults(func=cmd_pretrain)

    t = sub.add_parser("table2", help="paper Table 2: encoder without vs with mask tokens")
    t.add_argument("--models", default="base,large", help="comma list of tiny/small/base/large/huge")
    t.add_argument("--decoder-depths", default="8,1")
    t.add_argument("--png", default="work_dirs/bench/table2.png", help="bar chart ('' for none)")
    common(t, batch=2, steps=3, warmup=1)
    t.set_defaults(func=cmd_table2)

    ld = sub.add_parser("loader", help="data pipeline images/s per worker against the model's images/s")
    ld.add_argument("--data", default=None, help="image folder (default: embedded images as JPEGs)")
    ld.add_argument("--images", type=int, default=64, help="images timed per measurement")
    ld.add_argument("--workers", type=int, default=None, help="DataLoader workers to plan for (default: cores)")
    ld.add_argument("--model-ips", type=float, default=None, help="model images/s (skips measuring ViT-B)")
    ld.add_argument("--model-steps", type=int, default=2, help="timed ViT-B steps when measuring the model")
    common(ld, batch=8, steps=0, warmup=0)
    ld.set_defaults(func=cmd_loader)

    from tools.precision_check import add_parser as add_precision
    add_precision(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    for k in ("batch", "img_size"):
        if getattr(args, k, 1) < 1:
            raise ValueError(f"--{k.replace('_', '-')} must be positive")
    if getattr(args, "steps", 1) < 1 and args.func is not cmd_loader:
        raise ValueError("--steps must be at least 1")
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
