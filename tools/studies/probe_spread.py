"""How far the classification study's linear probe moves when only the thread count or the seed
changes (docs/RESULTS.md):

    python -m tools.studies.probe_spread --encoder OUT/mae_encoder.pth --lr 10

The study's encoder (its saved `mae_encoder.pth`) and a random-init one each get their class-token
and pooled features cached once; then the probe is refit on all training features with the given
base lr, for each (threads, seed) pair, and scored on the test images. Same features, same lr: what
differs is only float summation order (threads) or the batch order and head init (seed).
"""
import argparse
import copy
import json

import torch

from tools.ablate import data as fmnist, engine
from tools.studies import classification as S
from transfer.classification.probe_cache import fit_probe, probe_accuracy


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m tools.studies.probe_spread",
                                description=__doc__.split("\n")[0])
    p.add_argument("--encoder", required=True, help="the study's mae_encoder.pth")
    p.add_argument("--lr", type=float, default=10.0, help="LARS base lr (the study's held-out choice)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--runs", default="1:0,1:0,2:0,2:0,1:1,1:2", help="threads:seed pairs")
    p.add_argument("--probes", default="mae cls,mae avg,random cls,random avg", help="which encoders and features")
    p.add_argument("--out", default=None, help="JSON file for the scores")
    args = p.parse_args(argv)
    runs = [tuple(int(v) for v in r.split(":")) for r in args.runs.split(",")]
    data = fmnist.load_fmnist()
    (x, y), (xt, yt) = data["train"], data["test"]
    blob = torch.load(args.encoder, map_location="cpu", weights_only=True)
    state, spec = blob["state"], S.saved_encoder_spec(blob)
    threads, out = torch.get_num_threads(), {}
    for init_name, init in (("mae", state), ("random", None)):
        for pool in ("cls", "avg"):
            if f"{init_name} {pool}" not in [v.strip() for v in args.probes.split(",")]:
                continue
            torch.manual_seed(0)
            model = engine.probe_model(init, pool, spec)
            f, ft = (engine.features(model, a, spec, torch.device("cpu")) for a in (x, xt))
            scores = []
            for n, seed in runs:
                torch.set_num_threads(n)
                head = fit_probe(copy.deepcopy(model.head), f, y, epochs=args.epochs, base_lr=args.lr, seed=seed)
                scores.append({"threads": n, "seed": seed, "top1": round(probe_accuracy(head, ft, yt), 2)})
                torch.set_num_threads(threads)
            out[f"{init_name} {pool}"] = scores
            tops = [s["top1"] for s in scores]
            runs_text = ", ".join(f"{s['threads']}t/seed {s['seed']} {s['top1']}" for s in scores)
            engine.log(f"{init_name} {pool}: {runs_text}; range {min(tops)}-{max(tops)}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
