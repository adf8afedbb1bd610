"""Command line of `mae bench` (also `python -m tools.benchmark ...`): one subcommand per module,
imported only to run it (the options live in args.py, so `--help` needs no torch)."""
import importlib
import sys

from tools.benchmark import args as bench_args
from tools.cli_args import Parser


def build_parser() -> Parser:
    p = Parser(prog="mae bench", description="speed benchmarks for MAE pretraining")
    sub = p.add_subparsers(dest="bench", required=True)
    bench_args.add_pretrain(sub)
    bench_args.add_table2(sub)
    bench_args.add_loader(sub)
    from tools.benchmark.cmd_precision import add_parser as add_precision
    add_precision(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    for k in ("batch", "img_size"):
        if getattr(args, k, 1) < 1:
            raise ValueError(f"--{k.replace('_', '-')} must be positive")
    if getattr(args, "steps", 1) < 1 and getattr(args, "module", None) != "cmd_loader":
        raise ValueError("--steps must be at least 1")
    func = getattr(args, "func", None) or importlib.import_module(f"tools.benchmark.{args.module}").run
    func(args)
    return 0
