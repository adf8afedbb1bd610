"""What the detection and segmentation studies share: `mae` jobs as subprocesses, stages that
leave a file when done (a rerun skips them), the work folder's summary, the side-by-side picture,
the config templates under configs/studies/, and publishing the JSON and RESULTS.md's section."""
import datetime
import json
import os
import subprocess
import sys
import time

from tools.ablate.engine import machine
from tools.studies.sections import put_section

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATES = os.path.join(ROOT, "configs", "studies")


def template(name: str, **values) -> str:
    """configs/studies/NAME.py.tmpl with its `{placeholders}` filled (str.format)."""
    with open(os.path.join(TEMPLATES, f"{name}.py.tmpl")) as f:
        return f.read().format(**values)


def mae(args, log: str, env=None) -> subprocess.Popen:
    """`python -m tools.cli ARGS` from the repository root, output to `log`: a study's jobs are the
    commands a user would run."""
    pythonpath = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, PYTHONPATH=pythonpath, **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "tools.cli", *args], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)


def both(job: dict, name: str, work: str) -> None:
    """`mae` on both arms at once, one thread each (the study's machine has 2 cores). `job`: arm ->
    args."""
    running = {arm: mae(a, os.path.join(work, f"{name}_{arm}.log"), env=dict(OMP_NUM_THREADS="1"))
               for arm, a in job.items()}
    failed = [arm for arm, p in running.items() if p.wait()]
    if failed:
        raise SystemExit(f"{name} failed for {failed}; see {work}/{name}_{failed[0]}.log")


def stage(summary: dict, name: str, done: str, work) -> None:
    """Run `work()` unless `done` exists; record its wall time (a cached stage keeps its old
    time)."""
    if os.path.exists(done) and name in summary["seconds"]:
        print(f"[{name}] cached ({done})", flush=True)
        return
    print(f"[{name}] ...", flush=True)
    t = time.time()
    work()
    summary["seconds"][name] = round(time.time() - t, 1)
    print(f"[{name}] {summary['seconds'][name]} s", flush=True)


def open_summary(work: str, budget: dict):
    """The work folder's summary.json (a new one if absent) and a function saving it; a folder made
    with other arguments (`budget`) is refused."""
    path = os.path.join(work, "summary.json")
    summary = json.load(open(path)) if os.path.isfile(path) else dict(args=budget, seconds={})
    if summary["args"] != budget:
        raise SystemExit(f"{work} holds a study made with {summary['args']}; use another --work or "
                         "delete it")

    def save():
        with open(path, "w") as f:
            json.dump(summary, f, indent=2)
    return summary, save


def publish(summary: dict, save, study: str, argv, out: str, section) -> None:
    """Record the command (`python -m tools.studies.STUDY ...`), date and machine; write
    `<out>/study_<study>.json` and RESULTS.md's section (`section(summary, out)`)."""
    cmd = " ".join(sys.argv[1:] if argv is None else argv)
    summary.update(command=f"python -m tools.studies.{study} {cmd}",
                   date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   machine=machine(), nice=os.nice(0))
    save()
    with open(os.path.join(out, f"study_{study}.json"), "w") as f:
        json.dump(summary, f, indent=2)
    put_section(os.path.join(out, "RESULTS.md"), section(summary, out))


def section_end(summary: dict, out: str, alt: str) -> str:
    """The end of a detection or segmentation section in `out`: its picture (`alt`: what it shows),
    the wall time per stage, and the summary's `notes` (why the run, how the budget was chosen) as
    a list after a blank line."""
    secs, notes = summary["seconds"], summary.get("notes", [])
    stages = ", ".join(f"{k} {v:.0f}" for k, v in secs.items())
    text = (f"![{alt}]({os.path.relpath(summary['picture'], out)})\n\n"
            f"Wall time per stage (s): {stages}; total\n{sum(secs.values()) / 60:.1f} min.\n")
    return text + ("".join(["\n"] + [f"- {n}\n" for n in notes]) if notes else "")


def side_by_side(path: str, columns: dict) -> str:
    """One PNG at `path`: a column per entry of `columns` (title -> pictures: files or arrays), a
    row per picture."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    rows = max(len(pics) for pics in columns.values())
    fig, axes = plt.subplots(rows, len(columns), figsize=(4 * len(columns), 4 * rows),
                             squeeze=False)
    for col, (name, pics) in enumerate(columns.items()):
        for row, pic in enumerate(pics):
            ax = axes[row][col]
            ax.imshow(Image.open(pic) if isinstance(pic, str) else pic, interpolation="nearest")
            ax.set_axis_off()
            if row == 0:
                ax.set_title(name)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
