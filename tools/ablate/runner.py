"""Run a suite's arms with fixed seeds; each finished (arm, seed) is a JSON file that is never rerun,
so a stopped suite resumes where it stopped. Pretrainings shared by arms (the partial suite) are
cached as encoder weights."""
import hashlib
import json
import os
import re
import time
from types import SimpleNamespace

import torch

from pretrain.errors import ConfigError
from pretrain.resilience.atomic import atomic_torch_save, atomic_write
from tools.ablate import data as ablate_data
from tools.ablate.arms import resolve
from tools.ablate.scale import DEFAULT, fingerprint, load_scale, study_spec
from tools.ablate.suites import suites
from tools.ablate.engine import finetune, linear_probes, log, pretrain_mae


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def pretrain_epochs(budget: dict, arm: dict) -> int:
    """The arm's share of the budget's epochs, at least 1, but 0 for an arm asking for none (the
    schedule suite's untrained encoder)."""
    share = arm.get("epochs", 1)
    return 0 if share == 0 else max(1, round(budget["pretrain_epochs"] * share))


def study_args(budget: dict, arm: dict, seed: int, spec: dict) -> SimpleNamespace:
    """The argument set engine.py's loops read (the classification study's default rates;
    `spec`: the scale's model, normalisation and classes)."""
    return SimpleNamespace(seed=seed, batch=budget["batch"], mae_blr=1.5e-4 * 8, ft_blr=1e-3,
                           pretrain_epochs=pretrain_epochs(budget, arm),
                           probe_epochs=budget["probe_epochs"], probe_refits=1, ft_epochs=budget["ft_epochs"], spec=spec)


def pretrained(arm, seed, budget, data, device, folder, scale) -> tuple:
    """Encoder weights for this arm's pretraining config, from the cache or trained now."""
    args = study_args(budget, arm, seed, data["spec"])
    model_kw, setup, transform, extra = resolve(arm, budget, data, seed, os.path.dirname(folder), scale, data["spec"])
    spec = {"model": model_kw, "epochs": args.pretrain_epochs, "seed": seed}
    if args.pretrain_epochs < 10:  # short pretrainings warm up differently since protocol 2
        spec["protocol"] = PROTOCOL
    if "augment" in arm:
        spec["augment"] = arm["augment"]
    key = json.dumps(spec, sort_keys=True)
    path = os.path.join(folder, hashlib.sha1(key.encode()).hexdigest()[:12] + ".pt")
    if os.path.isfile(path):
        blob = torch.load(path, map_location=device, weights_only=True)
        return blob["state"], blob["info"], False
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    steps = args.pretrain_epochs * (len(data["train"][0]) // args.batch)
    t = time.time()
    state, losses = pretrain_mae(data["train"][0], args, device, model_kw=model_kw, setup=setup, transform=transform)
    seconds = time.time() - t
    info = {**extra, "pretrain_seconds": round(seconds, 2), "step_ms": round(1000 * seconds / max(1, steps), 2),
            "pretrain_losses": losses,
            "peak_mem_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device.type == "cuda" else None}
    atomic_torch_save({"state": state, "info": info}, path)  # a stopped run never leaves half a file
    return state, info, True


def evaluate(arm, seed, budget, metrics, data, device, folder, scale) -> dict:
    state, info, trained = pretrained(arm, seed, budget, data, device, folder, scale)
    args = study_args(budget, arm, seed, data["spec"])
    res = dict(info, trained_now=trained)
    if "lin" in metrics:
        res["lin"] = linear_probes(state, data, args, device, pools=("cls",))["cls"]
    if "ft" in metrics:
        res["ft"] = finetune(state, arm.get("trainable", "all"), data, args, device)
    return res


def suite_folder(out: str, name: str, budget_name: str, scale_name: str = DEFAULT) -> str:
    """OUT/SUITE/BUDGET at the default scale (as before scales existed), else OUT/SUITE/SCALE-BUDGET."""
    return os.path.join(out, name, budget_name if scale_name == DEFAULT else f"{scale_name}-{budget_name}")


# The evaluation protocol's version, stored with every arm: a cached arm made under another one is
# rerun. 2: the probe's LARS lr is chosen on held-out training images, and schedules under 10 epochs
# warm up for a tenth of their steps (tools/ablate/engine.py); 1 (no field): fixed lr rule.
# 3: a probe whose refit on all training images diverges falls back to the next held-out lr.
PROTOCOL = 3


def reusable(done: dict, budget: dict, scale: dict) -> bool:
    """A cached arm counts only under the same budget, scale settings and evaluation protocol (an
    edited budget or scale of the same name reruns it); results from before scales existed are
    Fashion-MNIST's."""
    if done is None or done["budget"] != budget or done.get("protocol", 1) != PROTOCOL:
        return False
    if "scale" not in done:
        return scale["name"] == DEFAULT
    return done["scale"] == json.loads(json.dumps(fingerprint(scale)))  # as stored: tuples become lists


def pick_arms(suite: dict, names: list = None) -> list:
    """The suite's arms named in `names` (an arm's name or slug, e.g. 'pixel-w-norm'), all when None."""
    if not names:
        return suite["arms"]
    known = {key: arm for arm in suite["arms"] for key in (arm["name"], slug(arm["name"]))}
    bad = [n for n in names if n not in known]
    if bad:
        raise ConfigError(f"unknown arm(s) {bad}; this suite's arms: {[slug(a['name']) for a in suite['arms']]}")
    return [arm for arm in suite["arms"] if arm in [known[n] for n in names]]


def run_suite(name: str, budget_name: str = "tiny", out: str = "work_dirs/ablate", seeds=(0,),
              data_root: str = None, scale: str = DEFAULT, scale_options: dict = None, arms: list = None) -> dict:
    """Run (or resume) one suite at one scale (configs/ablate/SCALE.py, `scale_options` merged in),
    only the `arms` named (names or their slugs) when given; returns {'suite', 'scale', 'budget', 'seeds', 'arms': {arm: {seed: result}}, 'trained', 'suite_spec'}."""
    scale = load_scale(scale, scale_options)
    all_suites = suites(scale)
    if name not in all_suites:
        raise ConfigError(f"unknown ablation suite {name!r}; choose one of {sorted(all_suites)}")
    if budget_name not in scale["budgets"]:
        raise ConfigError(f"unknown budget {budget_name!r} for scale {scale['name']!r}; "
                         f"choose one of {sorted(scale['budgets'])}")
    suite, budget = all_suites[name], scale["budgets"][budget_name]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    folder = suite_folder(out, name, budget_name, scale["name"])
    os.makedirs(os.path.join(folder, "arms"), exist_ok=True)
    jobs = [(arm, s) for arm in pick_arms(suite, arms) for s in seeds]
    results, trained, spent, data = {}, [], [], None
    for k, (arm, seed) in enumerate(jobs, 1):
        path = os.path.join(folder, "arms", f"{slug(arm['name'])}__seed{seed}.json")
        done = json.load(open(path)) if os.path.isfile(path) else None
        if reusable(done, budget, scale):
            results.setdefault(arm["name"], {})[seed] = done["result"]
            continue
        left = len(jobs) - k + 1
        eta = f"{sum(spent) / len(spent) * left / 60:.1f} min" if spent else "after the first arm"
        log(f"{name}: arm {k}/{len(jobs)} ({arm['name']}, seed {seed}), ETA {eta}")
        if data is None:
            data = ablate_data.load(scale, budget, data_root)
            data.update(ablate_data.to_device(data, device), spec=study_spec(scale, data["num_classes"]))
        t = time.time()
        res = evaluate(arm, seed, budget, suite["metrics"], data, device, os.path.join(folder, "pretrain"), scale)
        res["seconds"] = round(time.time() - t, 2)
        spent.append(res["seconds"])
        record = {"arm": arm, "seed": seed, "budget": budget, "scale": fingerprint(scale), "protocol": PROTOCOL,
                  "result": res}
        atomic_write(path, json.dumps(record, indent=1))
        results.setdefault(arm["name"], {})[seed] = res
        trained.append((arm["name"], seed))
    return {"suite": name, "scale": scale["name"], "description": scale["description"], "budget": budget_name,
            "budget_settings": budget, "seeds": list(seeds), "arms": results, "trained": trained,
            "suite_spec": suite}
