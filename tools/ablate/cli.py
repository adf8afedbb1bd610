"""The `mae ablate` subcommand's arguments and entry point."""
from tools.ablate.suites import NAMES
from tools.cli_args import DictAction


def add_parser(sub) -> None:
    a = sub.add_parser("ablate", help="the paper's ablation tables at small scale (mae ablate -h)")
    a.add_argument("suite", choices=NAMES, help="which table or figure of the paper to reproduce")
    a.add_argument("--scale", default="fmnist",
                   help="configs/ablate/SCALE.py (fmnist: tiny ViT, CPU; imagenet100: ViT-B/16, GPU) or a .py path")
    a.add_argument("--scale-options", nargs="+", action=DictAction, default={},
                   help="KEY=VALUE overrides of the scale's config (e.g. arch.depth=6 data.workers=8)")
    a.add_argument("--budget", default="small",
                   help="epochs and images per arm, from the scale's `budgets` (tiny, quick, small, full)")
    a.add_argument("--out", default="work_dirs/ablate", help="cache and results folder (reused: finished arms are kept)")
    a.add_argument("--arms", nargs="+", default=None,
                   help="run only these arms (their names or slugs, e.g. pixel-w-norm token; default: all)")
    a.add_argument("--seeds", type=int, nargs="+", default=[0], help="pretraining/evaluation seeds, each arm runs all")
    a.add_argument("--data", default=None,
                   help="fmnist: folder with the four idx .gz files; imagenet100: folder with train/ and val/")
    a.set_defaults(func=run)


def run(args) -> None:
    import time

    from tools.ablate.report import write
    from tools.ablate.runner import run_suite, suite_folder
    from tools.ablate.engine import machine

    result = run_suite(args.suite, args.budget, args.out, tuple(args.seeds), args.data, args.scale,
                       args.scale_options, args.arms)
    footer = (f"mae ablate {args.suite} --scale {result['scale']} --budget {args.budget} --seeds "
              f"{' '.join(map(str, args.seeds))}; drawn {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
              f"{machine()}")
    paths = write(result, suite_folder(args.out, args.suite, args.budget, result["scale"]), footer)
    print(f"trained {len(result['trained'])} arm(s), reused the rest; wrote " + ", ".join(paths.values()))
