"""A suite's markdown table, JSON and (figure-style suites) plot: ours beside the paper's numbers,
and whether each arm moves the same way as in the paper relative to the suite's reference arm."""
import json
import os
import statistics

from tools.ablate.scale import DEFAULT


def mean_spread(values: list) -> tuple:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def summarise(run: dict) -> list:
    """One row per arm: mean (and std over seeds) of each metric, the paper's, and the direction check."""
    suite = run["suite_spec"]
    rows = []
    for arm in suite["arms"]:
        per_seed = run["arms"].get(arm["name"], {})
        if not per_seed:
            continue
        row = {"case": arm["name"], "x": arm["x"], "seeds": sorted(per_seed), "paper": arm.get("paper", {}),
               "step_ms": mean_spread([r["step_ms"] for r in per_seed.values()])[0],
               "peak_mem_mb": next(iter(per_seed.values())).get("peak_mem_mb")}
        for m in suite["metrics"]:
            row[m], row[m + "_std"] = mean_spread([r[m] for r in per_seed.values()])
        rows.append(row)
    ref = next((r for r in rows if r["case"] == suite["reference"]), None)
    for row, arm in ((r, next(a for a in suite["arms"] if a["name"] == r["case"])) for r in rows):
        row["same_direction"] = {m: direction(row, arm, ref, m) for m in suite["metrics"]}
    return rows


def direction(row: dict, arm: dict, ref: dict, m: str) -> str:
    """'yes'/'no' where the paper gives a number (or a stated direction) for this arm and its reference;
    with 2+ seeds, a difference no larger than the seed spread says so, as the issue's honesty rule asks
    (the direction of a difference inside the noise is not evidence either way)."""
    verdict = raw_direction(row, arm, ref, m)
    if verdict in ("yes", "no") and within_spread(row, ref, m):
        return verdict + " (within seed spread)"
    return verdict


def within_spread(row: dict, ref: dict, m: str) -> bool:
    """|mean difference| <= the std of a difference of two arms' seeds, sqrt(s_row^2 + s_ref^2)."""
    s_row, s_ref = row.get(m + "_std"), ref.get(m + "_std")
    if s_row is None or s_ref is None:
        return False
    return abs(row[m] - ref[m]) <= (s_row ** 2 + s_ref ** 2) ** 0.5


def raw_direction(row: dict, arm: dict, ref: dict, m: str) -> str:
    if ref is None:
        return "n/a (reference arm not run)"
    if row is ref:
        return "reference"
    ours = row[m] - ref[m]
    paper_ref = ref["paper"].get(m)
    if m in row["paper"] and paper_ref is not None:
        paper = row["paper"][m] - paper_ref
        if paper == 0:
            return "n/a (paper: equal)"
        return "yes" if (ours > 0) == (paper > 0) and ours != 0 else "no"
    claim = arm.get("claim", {}).get(m)
    if claim:
        return "yes" if (ours < 0 if claim[0] == "lower" else ours > 0) else "no"
    return "n/a (no paper number)"


def fmt(v, std=None) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.1f}" + (f" ± {std:.1f}" if std is not None else "")


def difference_row(by: dict, suite: dict, ms: tuple) -> str:
    """The paper's Table 7 last row: one arm minus another (the target suite: token - normalised pixels)."""
    a, b = (by[case] for case in suite["difference"])
    paper = [(f"{a['paper'][m] - b['paper'][m]:+.1f}" if m in a["paper"] and m in b["paper"] else "-") for m in ms]
    cells = [f"{a['case']} - {b['case']}"] + [c for m, p in zip(ms, paper) for c in (f"{a[m] - b[m]:+.1f}", p)]
    if suite.get("timing"):
        cells += ["", "", ""]
    return "| " + " | ".join(cells + [""]) + " |"


def markdown(run: dict, rows: list) -> str:
    suite = run["suite_spec"]
    ms = suite["metrics"]
    head = ["case"] + [c for m in ms for c in (f"{m} (ours)", f"{m} (paper)")]
    if suite.get("timing"):
        head += ["step ms (ours)", "peak GPU MB (ours)", "FLOPs (paper)"]
    head.append("same direction as the paper")
    lines = [f"### `mae ablate {command(run)}`: {suite['title']}", "",
             f"Budget `{run['budget']}` ({run['budget_settings']}), seeds {run['seeds']}, reference arm "
             f"'{suite['reference']}'. ft = fine-tuning top-1 (%), lin = linear probe (class token) top-1 (%) "
             f"on the {run['description']}; paper = ViT-L on ImageNet-1K.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["case"]] + [c for m in ms for c in (fmt(r[m], r[m + "_std"]), fmt(r["paper"].get(m)))]
        if suite.get("timing"):
            cells += [fmt(r["step_ms"]), fmt(r["peak_mem_mb"] and float(r["peak_mem_mb"])),
                      fmt(r["paper"].get("FLOPs"))]
        cells.append(", ".join(f"{m}: {d}" for m, d in r["same_direction"].items()))
        lines.append("| " + " | ".join(cells) + " |")
    by = {r["case"]: r for r in rows}
    if suite.get("difference") and all(case in by for case in suite["difference"]):
        lines.append(difference_row(by, suite, ms))
    claims = sorted({c[1] for a in suite["arms"] for c in a.get("claim", {}).values()})
    if claims:
        lines += ["", "Directions without a paper number are the paper's stated ones: " + "; ".join(claims) + "."]
    if suite.get("note"):
        lines += ["", suite["note"]]
    tok = next((r["tokenizer"] for arm in run["arms"].values() for r in arm.values() if r.get("tokenizer")), None)
    if tok:
        usage = tok.get("usage", {})
        lines += ["", f"Tokenizer: `{tok['config']}` with {tok['options']} on {tok['train_images']} training "
                  f"images; {usage.get('used_codes', '?')} of {usage.get('vocab_size', '?')} codes used, "
                  f"perplexity {usage.get('perplexity', float('nan')):.1f}."]
    return "\n".join(lines) + "\n"


def command(run: dict) -> str:
    """The suite's name, with its scale where not the default (Fashion-MNIST)."""
    return run["suite"] + (f" --scale {run['scale']}" if run.get("scale", DEFAULT) != DEFAULT else "")


def plot(run: dict, rows: list, path: str, footer: str = None) -> None:
    """Accuracy against the suite's x; `footer`: the command, date and machine, printed under it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suite = run["suite_spec"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for m in suite["metrics"]:
        pts = sorted((r["x"], r[m], r[m + "_std"] or 0.0) for r in rows)
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], fmt="o-", capsize=3,
                    label=f"{m} (ours)" + (" ± std over seeds" if len(run["seeds"]) > 1 else ""))
    ax.set_xlabel(suite["xlabel"])
    ax.set_ylabel("top-1 (%)")
    ax.set_title(f"mae ablate {command(run)} ({run['budget']} budget)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.04 if footer else 0, 1, 1))
    if footer:
        fig.text(0.01, 0.01, footer, fontsize=5.5)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(run: dict, folder: str, footer: str = None) -> dict:
    """Writes SUITE.md, SUITE.json and, for figure-style suites, SUITE.png (with `footer`) into `folder`."""
    rows = summarise(run)
    base = os.path.join(folder, run["suite"])
    paths = {"md": base + ".md", "json": base + ".json"}
    open(paths["md"], "w").write(markdown(run, rows))
    kept = {k: v for k, v in run.items() if k not in ("trained", "suite_spec")}
    json.dump(kept | {"rows": rows}, open(paths["json"], "w"), indent=1)
    if run["suite_spec"]["figure"] and rows:
        paths["png"] = base + ".png"
        plot(run, rows, paths["png"], footer)
    return paths
