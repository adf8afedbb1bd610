"""Is the classification study's linear probe limited by its optimiser or by the features?

    python -m tools.studies.probe_convergence --encoder OUT/mae_encoder.pth \
        --out probe_convergence.json

The study's LARS probe (BatchNorm + linear, 30 epochs, lr chosen on held-out training images) takes
small steps by design (LARS: lr x 0.001 of each weight's norm), so a gap between two encoders could
be a gap in how far the probe got. This fits the other extreme on the same cached features: a linear
classifier trained to convergence (L-BFGS, full batch), its L2 chosen on the same held-out sixth of
the training images as the study's lr (`held_out_split`), then refit on all training images and
scored once on the test images. If MAE and random-init features keep their distance here, the gap
is in the features.
"""
import argparse
import json
import os
import time

import torch

from tools.ablate import data as fmnist, engine
from tools.studies import classification as S
from transfer.classification.probe_cache import held_out_split

L2S = (0.0, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)  # held-out choices landed on the small end: 0 closes it


def converged_probe(f: torch.Tensor, y: torch.Tensor, ft: torch.Tensor, yt: torch.Tensor, l2s=L2S,
                    steps: int = 500, seed: int = 0) -> dict:
    """{"held_out": {l2: top-1}, "l2": the held-out choice, "test": test top-1 of the refit on all of f}."""
    val, train = held_out_split(len(f), seed=seed, device=f.device)
    held = {}
    for l2 in l2s:
        torch.manual_seed(seed)
        held[l2] = round(S.logistic_regression(f[train], y[train], f[val], y[val], l2=l2, steps=steps), 2)
    best = max(held, key=lambda l2: (held[l2], l2))  # ties: the stronger L2
    torch.manual_seed(seed)
    return {"held_out": {str(k): v for k, v in held.items()}, "l2": best,
            "test": round(S.logistic_regression(f, y, ft, yt, l2=best, steps=steps), 2)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m tools.studies.probe_convergence",
                                description=__doc__.split("\n")[0])
    p.add_argument("--encoder", required=True, help="the study's mae_encoder.pth")
    p.add_argument("--steps", type=int, default=500, help="L-BFGS iterations of each fit")
    p.add_argument("--limit", type=int, default=0, help="use only this many train/test images (a quick check)")
    p.add_argument("--out", default=None, help="JSON file for the scores")
    args = p.parse_args(argv)
    if not os.path.isfile(args.encoder):
        p.error(f"--encoder {args.encoder}: no such file (the study saves OUT/mae_encoder.pth)")
    blob = torch.load(args.encoder, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or "state" not in blob:
        p.error(f"--encoder {args.encoder} is not a study encoder file (no 'state'): "
                "give the mae_encoder.pth that tools/studies/classification saved")
    data = fmnist.load_fmnist()
    if args.limit:
        data = {k: (x[:args.limit], y[:args.limit]) for k, (x, y) in data.items()}
    (x, y), (xt, yt) = data["train"], data["test"]
    state = blob["state"]
    spec = S.saved_encoder_spec(blob)
    out = {"machine": engine.machine(), "encoder": args.encoder,
           "patch_size": spec["arch"]["patch_size"],
           "steps": args.steps, "probes": {}}
    for init_name, init in (("mae", state), ("random", None)):
        for pool in ("cls", "avg"):
            t = time.time()
            torch.manual_seed(0)  # the study's random init for the random-init encoder
            model = engine.probe_model(init, pool, spec)
            f, ft = (engine.features(model, a, spec, torch.device("cpu")) for a in (x, xt))
            r = converged_probe(f, y, ft, yt, steps=args.steps)
            out["probes"][f"{init_name} {pool}"] = r
            print(f"{init_name:6s} {pool}: held-out {r['held_out']} -> L2 {r['l2']}, test {r['test']:.2f} "
                  f"({time.time() - t:.0f} s)", flush=True)
    P = out["probes"]
    for pool in ("cls", "avg"):
        out[f"gap {pool}"] = round(P[f"mae {pool}"]["test"] - P[f"random {pool}"]["test"], 2)
        print(f"MAE - random ({pool}): {out[f'gap {pool}']:+.2f} points on the test images")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
