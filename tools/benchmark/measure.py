"""Measurement helpers shared by the `mae bench` subcommands: machine facts, device sync, the
matmul peak, step memory, timed alternating steps and their summaries, JSON output.

Memory. `activation_bytes` is the peak one training step adds on top of what is resident before
it, measured with the gradient buffers already allocated, so it is activations + temporaries: on
CUDA the growth of `torch.cuda.max_memory_allocated`; on the CPU the growth of the process's peak
resident set (VmHWM, reset through /proc/self/clear_refs after `malloc_trim`), allocator slack
included. It is measured in one extra step per model after the timed ones, so it never disturbs
the timings. `state_bytes` = weights + gradients + AdamW's two moments (4 x the trainable
parameter bytes), counted; `training_bytes` = state + activations.
"""
import contextlib
import ctypes
import datetime
import gc
import json
import os
import platform
import re
import statistics
import time
from typing import Callable, Optional

import torch


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

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
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



def ratio(a: dict, b: dict, key: str) -> Optional[float]:
    return a[key] / b[key] if a[key] and b[key] else None


@contextlib.contextmanager
def torch_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


