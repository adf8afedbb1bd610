"""`python -m tools.studies.soak`: fault-injection soak of the demo run.

Kills the run with SIGKILL at seeded random moments (inside train steps, half-way through a checkpoint
write, just before a picture is written), resumes it each time with `--resume`, and compares the
final weights and losses with one uninterrupted run. Then injects a full disk, a corrupt newest
checkpoint and a SIGTERM, and reports each outcome. Prints markdown tables (and writes --json).
The model is tiny and fp32, so "equal" means bit-identical here.
"""
import argparse
import glob
import json
import os
import os.path as osp
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, "configs", "pretrain", "mae_vit-tiny-p8_demo_cpu.py")


def options(epochs: int, length: int, every_minutes: float) -> list:
    opts = {
        "model.img_size": 32, "model.patch_size": 8, "model.embed_dim": 32, "model.depth": 2, "model.num_heads": 2,
        "model.decoder_embed_dim": 32, "model.decoder_depth": 1, "model.decoder_num_heads": 2,
        "train_dataloader.dataset.img_size": 32, "train_dataloader.dataset.length": length,
        "train_dataloader.batch_size": 4, "max_epochs": epochs, "warmup_epochs": 1, "base_lr": 1.5e-3,
        "optim_wrapper.precision": "fp32", "default_hooks.logger.interval": 1,
        "default_hooks.checkpoint.interval": 1, "default_hooks.checkpoint.every_minutes": every_minutes,
        "custom_hooks.1.interval": 1, "custom_hooks.2.interval": 1,  # official export and pictures every epoch
    }
    return [f"{k}={v}" for k, v in opts.items()]


class Run:
    """One work dir trained by successive `mae train` processes."""

    def __init__(self, work: str, opts: list):
        self.work, self.opts, self.attempt = work, opts, 0

    def start(self, resume: bool, fault: str = None) -> subprocess.Popen:
        self.attempt += 1
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env.pop("MAE_FAULT", None)
        if fault:
            env["MAE_FAULT"] = fault
        log = open(osp.join(self.work + "_logs", f"attempt{self.attempt}.log"), "w")
        cmd = [sys.executable, "-m", "tools.cli", "train", DEMO, "--work-dir", self.work,
               *(["--resume"] if resume else []), "--cfg-options", *self.opts]
        self.dirs_before = set(glob.glob(osp.join(self.work, "2*")))
        self.log_path = log.name
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def scalars(self) -> list:
        """This attempt's per-iteration log lines."""
        new = sorted(set(glob.glob(osp.join(self.work, "2*"))) - self.dirs_before)
        path = osp.join(new[-1], "vis_data", "scalars.json") if new else None
        if not path or not osp.exists(path):
            return []
        return [json.loads(line) for line in open(path) if '"loss"' in line]

    def log_tail(self, n=3) -> str:
        lines = [ln.strip() for ln in open(self.log_path) if ln.strip()]
        return " | ".join(lines[-n:])


def resume_step(work: str) -> int:
    from pretrain.checkpoint import load_file
    from pretrain.resilience import choose_resume_checkpoint

    path, _ = choose_resume_checkpoint(work)
    return load_file(path)["meta"]["iter"] if path else 0


def compare(ref: str, work: str, epochs: int) -> tuple:
    """(largest weight difference, losses equal) between the final resume checkpoints."""
    from pretrain.checkpoint import load_file

    a, b = (load_file(osp.join(d, f"epoch_{epochs}.pth")) for d in (ref, work))
    diff = max(float((a["state_dict"][k].float() - b["state_dict"][k].float()).abs().max()) for k in a["state_dict"])
    return diff, a["loss_history"]["losses"] == b["loss_history"]["losses"]


def wait_for_steps(run: Run, p: subprocess.Popen, n: int = None, seen: dict = None, timeout: float = 900) -> bool:
    """Poll this attempt's log until it has `n` steps (None: until the process ends), noting in
    `seen` the wall time each step first appeared (the log's own 'time' is a running average)."""
    deadline = time.time() + timeout
    while p.poll() is None and time.time() < deadline:
        rows = run.scalars()
        if seen is not None:
            for r in rows:
                seen.setdefault(r["step"], time.time())
        if n is not None and len(rows) >= n:
            return True
        time.sleep(0.02)
    return False


KINDS = ("train step", "checkpoint write", "picture write")


def soak_kills(run: Run, kills: int, rng: random.Random) -> tuple:
    """SIGKILL `kills` attempts at seeded moments, then let the last one finish; (rows, final exit code)."""
    rows = []
    for i in range(kills):
        kind = rng.choices(KINDS, weights=[6, 3, 1])[0]
        n, delay, k = rng.randint(2, 20), rng.uniform(0, 0.3), rng.randint(1, 4)
        fault = {KINDS[0]: None, KINDS[1]: f"kill@save:{k}", KINDS[2]: "kill@picture:1"}[kind]
        start = resume_step(run.work)
        p = run.start(resume=i > 0, fault=fault)
        seen = {}
        if kind == KINDS[0] and wait_for_steps(run, p, n, seen):
            time.sleep(delay)  # somewhere inside the next step (or its hooks)
            p.send_signal(signal.SIGKILL)
        wait_for_steps(run, p, None, seen)
        code = p.wait()
        killed_at = time.time()
        row = dict(kind=kind if fault is None else f"{kind} ({fault})", resumed_from=start, exit=code)
        rows.append(row)
        if code != -signal.SIGKILL:  # finished before the chosen moment, or failed
            return rows, code
        logged = run.scalars()
        last = logged[-1]["step"] if logged else start
        nxt = resume_step(run.work)
        # wall time from the step the next attempt resumes from (or this attempt's first step) to the kill
        since = seen.get(nxt) if nxt > start else (min(seen.values()) if seen else None)
        row.update(last_step=last, next_from=nxt, lost_iters=max(0, last - nxt),
                   lost_s=round(killed_at - since, 2) if since else 0.0)
    p = run.start(resume=True)
    return rows, p.wait()


def last_error(run: Run) -> str:
    lines = [ln.strip() for ln in open(run.log_path) if ln.startswith("mae:")]
    return lines[-1] if lines else run.log_tail(1)


def scenario_enospc(run: Run) -> dict:
    from pretrain.resilience.resume import unreadable_reason

    code = run.start(resume=False, fault="enospc@save:4").wait()
    msg = last_error(run)
    pointer = osp.join(run.work, "last_checkpoint")
    prev = open(pointer).read().strip() if osp.exists(pointer) else None
    state = "none" if prev is None else (
        f"{osp.basename(prev)} {'readable' if unreadable_reason(prev) is None else 'BROKEN'}")
    return dict(scenario="ENOSPC while writing the 4th checkpoint file", exit=code, message=msg, previous=state,
                resumed_exit=run.start(resume=True).wait())


def scenario_corrupt(run: Run, kill_at: int) -> dict:
    from pretrain.resilience.resume import candidates

    code = run.start(resume=False, fault=f"kill@iter:{kill_at}").wait()
    newest = candidates(run.work)[0]
    data = bytearray(open(newest, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(newest, "wb").write(data)
    resumed = run.start(resume=True).wait()
    note = [ln.strip() for ln in open(run.log_path) if "newest checkpoint" in ln]
    return dict(scenario=f"SIGKILL after step {kill_at}, then a flipped byte in {osp.basename(newest)}", exit=code,
                message=note[0].split(" - ")[-1] if note else "(no fallback line)", previous="-",
                resumed_exit=resumed)


def scenario_sigterm(run: Run, steps: int) -> dict:
    p = run.start(resume=False)
    wait_for_steps(run, p, steps)
    p.send_signal(signal.SIGTERM)
    code = p.wait()
    return dict(scenario=f"SIGTERM after {steps} logged steps", exit=code, message=last_error(run),
                previous=osp.basename(open(osp.join(run.work, "last_checkpoint")).read().strip()),
                resumed_exit=run.start(resume=True).wait())


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m tools.studies.soak",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--length", type=int, default=64, help="samples per epoch (batch 4)")
    ap.add_argument("--every-minutes", type=float, default=0.02, help="time-based resume checkpoint interval")
    ap.add_argument("--no-scenarios", action="store_true", help="only the kills")
    ap.add_argument("--work", help="keep the runs here (default: a temporary folder, removed)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    base = args.work or tempfile.mkdtemp(prefix="mae_soak_")
    opts = options(args.epochs, args.length, args.every_minutes)

    def new_run(name):
        work = osp.join(base, name)
        os.makedirs(work + "_logs", exist_ok=True)
        return Run(work, opts)

    t0 = time.time()
    ref = new_run("reference")
    if ref.start(resume=False).wait() != 0:
        raise SystemExit(f"the uninterrupted run failed: {ref.log_tail()}")
    soak = new_run("killed")
    rows, final = soak_kills(soak, args.kills, random.Random(args.seed))
    killed = [r for r in rows if r["exit"] == -signal.SIGKILL]
    diff, same_losses = compare(ref.work, soak.work, args.epochs) if final == 0 else (float("nan"), False)
    result = dict(kills=len(killed), resumes_ok=len(killed) if final == 0 else None, final_exit=final,
                  max_weight_diff=diff, losses_equal=same_losses, interval_s=60 * args.every_minutes,
                  max_lost_s=max((r["lost_s"] for r in killed), default=0.0),
                  max_lost_iters=max((r["lost_iters"] for r in killed), default=0), rows=rows, scenarios=[])
    if not args.no_scenarios:
        steps, per_epoch = args.epochs * args.length // 4, args.length // 4
        # the corrupt file gets killed mid last epoch, so older epoch checkpoints exist to fall back to
        for scen in (scenario_enospc(new_run("enospc")), scenario_corrupt(new_run("corrupt"), steps - per_epoch // 2),
                     scenario_sigterm(new_run("sigterm"), steps // 3)):
            name = {"ENOSPC": "enospc", "SIGKILL": "corrupt", "SIGTERM": "sigterm"}[scen["scenario"].split()[0]]
            d, same = compare(ref.work, osp.join(base, name), args.epochs) if scen["resumed_exit"] == 0 else (None, False)
            scen.update(weight_diff=d, losses_equal=same)
            result["scenarios"].append(scen)
    result["seconds"] = round(time.time() - t0)
    if args.json:
        json.dump(result, open(args.json, "w"), indent=1)
    print_tables(result, args)
    if not args.work:
        shutil.rmtree(base, ignore_errors=True)
    return result


def print_tables(r: dict, args) -> None:
    print(f"| # | killed inside | resumed from step | last logged step | next resumes from | steps lost | "
          f"seconds lost |\n|---|---|---|---|---|---|---|")
    for i, row in enumerate(r["rows"], 1):
        print(f"| {i} | {row['kind']} | {row['resumed_from']} | {row.get('last_step', '-')} | "
              f"{row.get('next_from', '-')} | {row.get('lost_iters', '-')} | {row.get('lost_s', '-')} |")
    print(f"\nkills: {r['kills']}; resumes that succeeded: {r['resumes_ok']} (final exit {r['final_exit']}); "
          f"largest weight difference: {r['max_weight_diff']:.3g}; losses identical: {r['losses_equal']}; "
          f"most work lost: {r['max_lost_s']} s / {r['max_lost_iters']} steps (checkpoint interval "
          f"{r['interval_s']:.3g} s); {args.epochs} epochs x {args.length // 4} steps, seed {args.seed}, "
          f"{r.get('seconds', '?')} s in all")
    if r["scenarios"]:
        print("\n| injected | exit | what it said | previous checkpoint | resumed exit | weight diff | losses equal |"
              "\n|---|---|---|---|---|---|---|")
        for s in r["scenarios"]:
            print(f"| {s['scenario']} | {s['exit']} | {s['message']} | {s['previous']} | {s['resumed_exit']} | "
                  f"{s['weight_diff']} | {s['losses_equal']} |")


if __name__ == "__main__":
    main()
