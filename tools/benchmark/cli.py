"""Command line of `mae bench` (also `python -m tools.benchmark ...`): one subcommand per module."""
import argparse
import sys

import torch

from tools.benchmark import cmd_loader, cmd_pretrain, cmd_table2


def _common(s, batch, steps, warmup):
    s.add_argument("--batch", type=int, default=batch)
    s.add_argument("--img-size", type=int, default=224)
    s.add_argument("--mask-ratio", type=float, default=0.75)
    s.add_argument("--decoder-width", type=int, default=512)
    s.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16", "fp16"),
                   help="autocast precision of our step (fp16: CUDA only; auto: bf16 where it is fast)")
    s.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    s.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    s.add_argument("--steps", type=int, default=steps, help="timed steps per model")
    s.add_argument("--warmup", type=int, default=warmup, help="untimed warm-up steps per model")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", default=None, help="write the results here")
    s.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak measurement")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mae bench", description="speed benchmarks for MAE pretraining")
    sub = p.add_subparsers(dest="bench", required=True)
    cmd_pretrain.add_parser(sub, _common)
    cmd_table2.add_parser(sub, _common)
    cmd_loader.add_parser(sub, _common)
    from tools.precision_check import add_parser as add_precision
    add_precision(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    for k in ("batch", "img_size"):
        if getattr(args, k, 1) < 1:
            raise ValueError(f"--{k.replace('_', '-')} must be positive")
    if getattr(args, "steps", 1) < 1 and args.func is not cmd_loader.run:
        raise ValueError("--steps must be at least 1")
    args.func(args)
    return 0
