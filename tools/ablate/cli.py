"""The `mae ablate` subcommand's arguments and entry point."""
from tools.ablate.suites import BUDGETS, SUITES


def add_parser(sub) -> None:
    a = sub.add_parser("ablate", help="the paper's ablation tables at small scale (mae ablate -h)")
    a.add_argument("suite", choices=sorted(SUITES), help="which table or figure of the paper to reproduce")
    a.add_argument("--budget", default="small", choices=list(BUDGETS), help="epochs and images per arm")
    a.add_argument("--out", default="work_dirs/ablate", help="cache and results folder (reused: finished arms are kept)")
    a.add_argument("--seeds", type=int, nargs="+", default=[0], help="pretraining/evaluation seeds, each arm runs all")
    a.add_argument("--data", default=None, help="folder with the four Fashion-MNIST idx .gz files")
    a.set_defaults(func=run)


def run(args) -> None:
    import os

    from tools.ablate.report import write
    from tools.ablate.runner import run_suite

    result = run_suite(args.suite, args.budget, args.out, tuple(args.seeds), args.data)
    paths = write(result, os.path.join(args.out, args.suite, args.budget))
    print(f"trained {len(result['trained'])} arm(s), reused the rest; wrote " + ", ".join(paths.values()))
