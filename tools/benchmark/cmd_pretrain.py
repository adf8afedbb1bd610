"""`mae bench pretrain`: our MAE training step against peers of the same architecture (see
peers.py), timed steps alternating between them in one process (so a noisy, shared machine slows
all alike); images/s, step-time spread, training memory, ratios ours/peer, and model FLOP/s as a
fraction of a matrix-product peak measured in the same run. A step is forward + backward +
optimiser step + zero_grad, on random inputs."""
import torch

from tools.benchmark import peers
from tools.benchmark.flops import mae_forward_flops
from tools.benchmark.measure import (fmt_bytes, header, matmul_peak, paired_ratio, ratio, save_json, setup,
                                     step_memory, summarize, timed_alternating)
from tools.benchmark.profile import print_profile, profile_step




def run(args) -> dict:
    device = setup(args)
    if args.peer_precision is None:
        args.peer_precision = args.precision
    arch = peers.SIZES[args.model]
    wanted = [] if args.no_peer else [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in wanted if p not in peers.PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown}; choose from {sorted(peers.PEERS)}")
    unavailable = {p: why for p in wanted if (why := peers.peer_available(p)) is not None}
    for p, why in unavailable.items():
        print(f"peer {p} unavailable ({why}); install the 'bench' extra (pip install transformers timm) to compare.")
    used = [p for p in wanted if p not in unavailable]

    x = torch.randn(args.batch, 3, args.img_size, args.img_size, device=device)
    model, opt = peers.build_ours(arch, args, device)
    cudagraphs = args.compile and args.compile_mode == "reduce-overhead"
    if args.bf16_weights:
        from tools.benchmark.master_weights import MasterWeightStep

        if args.precision != "bf16":
            raise ValueError("--bf16-weights needs --precision bf16")
        opt = MasterWeightStep(model, opt)
    fwd = peers.compiled(model, args.compile_mode) if args.compile else model
    steps = {"ours": peers.make_step(fwd, opt, peers.ours_call, args.precision, device, x, cudagraphs)}
    models, precisions = {"ours": model}, {"ours": args.precision}
    if (args.compile or args.bf16_weights) and args.with_eager:
        torch.manual_seed(args.seed)
        em, eo = peers.build_ours(arch, args, device)
        steps["ours_eager"] = peers.make_step(em, eo, peers.ours_call, args.precision, device, x)
        models["ours_eager"], precisions["ours_eager"] = em, args.precision
    for p in used:
        pm, po = peers.build_peer(p, arch, args, device)
        steps[p] = peers.make_step(pm, po, peers.CALLS[p], args.peer_precision, device, x)
        models[p], precisions[p] = pm, args.peer_precision
    how = (f"compiled ({args.compile_mode})" if args.compile else "eager") + (
        ", bf16 weights + fp32 masters" if args.bf16_weights else "")
    print(f"MAE pretraining step: {arch}, batch {args.batch}, {args.img_size}px, mask {args.mask_ratio}, "
          f"decoder {args.decoder_depth}x{args.decoder_width}, {device.type} ({torch.get_num_threads()} threads), "
          f"ours {args.precision} {how}" + (f" vs {', '.join(used)} ({args.peer_precision})" if used else ""),
          flush=True)
    res = timed_alternating(steps, args.warmup, args.steps, device)

    train_flops = 3 * mae_forward_flops(arch, args.img_size, args.mask_ratio, args.decoder_width,
                                        args.decoder_depth) * args.batch
    peaks = {p: matmul_peak(p, device, args.matmul_size) for p in set(precisions.values())}
    out = header(args, device)
    out["config"] = {k: getattr(args, k) for k in ("model", "batch", "img_size", "mask_ratio", "decoder_depth",
                                                     "decoder_width", "precision", "peer_precision", "compile",
                                                     "compile_mode", "bf16_weights", "steps", "warmup", "seed")}
    out["config"].update(arch=arch, peers=used)
    out["model_flops_per_step"] = train_flops
    out["matmul_peak"] = peaks
    for k in steps:
        s = summarize(res[k]["times"], args.batch)
        s.update(warmup_s=res[k]["warmup_s"], loss=res[k]["loss"], precision=precisions[k],
                 model_flops_per_s=train_flops / s["step_s_median"])
        s["mfu_of_measured_matmul_peak"] = s["model_flops_per_s"] / peaks[precisions[k]]["flops_per_s"]
        s["memory"] = step_memory(steps[k], models[k], device)
        if args.profile:
            try:  # a profiler failure must not lose the timings measured above
                s["profile"] = profile_step(steps[k], device, args.profile_steps)
            except Exception as e:  # noqa: BLE001  (recorded and printed, not hidden)
                s["profile_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
                print(f"profile of {k} failed: {s['profile_error']}")
        out[k] = s
    out["peer_names"] = {p: peers.PEERS[p] for p in used}
    out["peers_unavailable"] = unavailable
    out["ratios"] = {k: _ratios(out, res, k) for k in steps if k != "ours"}
    # the Hugging Face peer under its earlier keys, which older result files and scripts read
    out["peer"] = out.get("hf")
    out["peer_unavailable"] = unavailable.get("hf") if "hf" in wanted else "not requested"
    if "hf" in out["ratios"]:
        out["ratio_ours_over_peer"] = out["ratios"]["hf"]
        out["peer_attn_implementation"] = models["hf"].config._attn_implementation
    print_pretrain(out, list(steps))
    save_json(args.json, out)
    return out


def _ratios(out: dict, res: dict, other: str) -> dict:
    """Ours over `other`: speed from median steps, paired and fastest steps; memory."""
    return {"images_per_s": out["ours"]["images_per_s"] / out[other]["images_per_s"],
            "paired_median": paired_ratio(res[other]["times"], res["ours"]["times"]),
            "min_step": min(res[other]["times"]) / min(res["ours"]["times"]),
            "activation_memory": ratio(out["ours"]["memory"], out[other]["memory"], "activation_bytes"),
            "training_memory": ratio(out["ours"]["memory"], out[other]["memory"], "training_bytes")}


def print_pretrain(out: dict, sides: list) -> None:
    print(f"{'':10}{'img/s':>9}{'median s':>10}{'IQR s':>8}{'min..max s':>15}{'activations':>12}"
          f"{'train mem':>11}{'GFLOP/s':>10}{'of peak':>9}")
    for k in sides:
        s = out[k]
        print(f"{k:10}{s['images_per_s']:9.2f}{s['step_s_median']:10.3f}{s['step_s_iqr']:8.3f}"
              f"{s['step_s_min']:7.3f}..{s['step_s_max']:<6.3f}{fmt_bytes(s['memory']['activation_bytes']):>12}"
              f"{fmt_bytes(s['memory']['training_bytes']):>11}"
              f"{s['model_flops_per_s'] / 1e9:10.1f}{s['mfu_of_measured_matmul_peak']:9.1%}")
    for p, v in out["matmul_peak"].items():
        print(f"matmul peak {v['size']}x{v['size']} {p}: {v['flops_per_s'] / 1e9:.1f} GFLOP/s")
    for other, r in out["ratios"].items():
        act, tr = (f"{r[k]:.2f}x" if r[k] else "n/a" for k in ("activation_memory", "training_memory"))
        print(f"ours/{other}: {r['images_per_s']:.2f}x img/s from median steps (paired median "
              f"{r['paired_median']:.2f}x, fastest steps {r['min_step']:.2f}x); activation memory {act}, "
              f"training memory {tr}")
    print(f"memory: {out['ours']['memory']['method']}; train mem = that + weights, grads, AdamW moments")
    print_profile(out, sides)
