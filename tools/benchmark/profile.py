"""Where a training step's time goes, by kind of work (`mae bench pretrain --profile`).

CUDA: device time of the kernels themselves (CUPTI kernel, memcpy and memset events), summed by
kernel family from the kernel name, because on a GPU the time sits on kernels such as
`nvjet_*` or `cudnn_*sdpa*flash*`, not on the aten ops that launched them; plus the share of
the profiled wall time in which no kernel ran (GPU idle, i.e. waiting on the host).
CPU: self time of the aten ops (matrix products, attention, everything under the optimiser, the rest).
"""
import re
from typing import Callable

import torch

# Checked in this order: the first family whose pattern matches the kernel name wins
# (attention before GEMM: memory-efficient attention kernels carry "cutlass" in their names).
KERNEL_FAMILIES = (
    ("optimizer", r"adam|multi_tensor_apply|foreach"),
    ("attention", r"flash|fmha|sdpa|attention|attn"),
    ("gemm", r"gemm|nvjet|cutlass|cublas|xmma|wgmma|triton_tem_fused_.*mm|_mm_|matmul"),
    ("norm", r"layer_norm|layernorm|gammabeta|rms_?norm"),
    ("copy", r"memcpy|memset|copy|catarray|\bcat_"),
    ("elementwise", r"elementwise|reduce|triton_(poi|red|per)|softmax|gelu|index|gather|scatter|sort|fill"),
)
KINDS = tuple(k for k, _ in KERNEL_FAMILIES) + ("other",)
_PATTERNS = [(k, re.compile(p, re.I)) for k, p in KERNEL_FAMILIES]


def kernel_family(name: str) -> str:
    """The family of one CUDA kernel (or memcpy/memset) from its name."""
    for kind, pattern in _PATTERNS:
        if pattern.search(name):
            return kind
    return "other"


def _union_us(intervals: list) -> float:
    busy, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if e > end:
            busy += e - max(s, end)
            end = e
    return busy


def profile_step(step: Callable[[], object], device: torch.device, steps: int = 1) -> dict:
    """Profile `steps` training steps after the timed ones (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    from tools.benchmark.measure import sync

    cuda = device.type == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    sync(device)
    with profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        sync(device)
    return _cuda_split(prof, steps) if cuda else _cpu_split(prof, steps)


def _cuda_split(prof, steps: int) -> dict:
    from torch.autograd import DeviceType

    by_kind = dict.fromkeys(KINDS, 0.0)
    intervals, span = [], [float("inf"), float("-inf")]
    top = {}
    for e in prof.events():
        s, t = e.time_range.start, e.time_range.end
        span[0], span[1] = min(span[0], s), max(span[1], t)
        if e.device_type != DeviceType.CUDA:
            continue
        by_kind[kernel_family(e.name)] += t - s
        top[e.name] = top.get(e.name, 0.0) + t - s
        intervals.append((s, t))
    total = sum(by_kind.values()) or 1e-9
    wall = max(span[1] - span[0], 1e-9)
    busy = _union_us(intervals)
    return {"total_s": total / 1e6 / steps, "wall_s": wall / 1e6 / steps, "steps": steps,
            "basis": "CUDA kernel device time by kernel family, per step",
            "gpu_idle_share": max(0.0, 1 - busy / wall),
            "share": {k: v / total for k, v in by_kind.items()},
            "top_kernels": [{"name": n[:160], "s_per_step": v / 1e6 / steps, "family": kernel_family(n)}
                            for n, v in sorted(top.items(), key=lambda kv: -kv[1])[:12]]}


def _cpu_split(prof, steps: int) -> dict:
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    optim = sum(e.cpu_time_total for e in events
                if e.key.startswith("Optimizer.step#") or e.key.startswith("Optimizer.zero_grad#"))
    matmul = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"))
    attention = sum(e.self_cpu_time_total for e in events if "scaled_dot_product" in e.key or "flash_attention" in e.key)
    other = max(0.0, total - optim - matmul - attention)
    return {"total_s": total / 1e6 / steps, "steps": steps, "basis": "CPU self time of aten ops, per step",
            "share": {"matmul": matmul / total, "attention": attention / total,
                      "optimizer": optim / total, "other": other / total}}


def print_profile(out: dict, sides: list) -> None:
    rows = [k for k in sides if out.get(k) and out[k].get("profile")]
    if not rows:
        return
    first = out[rows[0]]["profile"]
    kinds = list(first["share"])
    print(f"time by kind of work ({first['basis']}; seconds, share):")
    idle = "gpu_idle_share" in first
    print(f"{'':10}{'total':>8}" + ("{:>8}".format("wall") + "{:>7}".format("idle") if idle else "")
          + "".join(f"{k:>17}" for k in kinds))
    for r in rows:
        pr = out[r]["profile"]
        extra = f"{pr['wall_s']:8.3f}{pr['gpu_idle_share']:7.0%}" if idle else ""
        print(f"{r:10}{pr['total_s']:8.3f}{extra}" + "".join(
            f"{pr['total_s'] * pr['share'][k]:9.3f} ({pr['share'][k]:4.0%})" for k in kinds))
