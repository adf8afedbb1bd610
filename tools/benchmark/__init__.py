"""Speed benchmarks: `mae bench pretrain | table2 | loader | precision` (also `python -m tools.benchmark ...`).

measure.py      machine facts, matmul peak, step memory, timed alternating steps, JSON output
flops.py        model FLOPs of MAE pretraining (what MFU divides by)
peers.py        the timed models (ours, Hugging Face ViTMAE, the official model rebuilt) and their steps
official_mae.py the facebookresearch/mae architecture rebuilt from timm blocks (a speed peer)
profile.py      where a step's time goes (CUDA: kernel families and GPU idle share)
args.py         every option of every subcommand (no torch: `mae bench --help` is instant)
cmd_*.py        one module per subcommand; cli.py builds the parser and imports the one to run
"""
from tools.benchmark.cli import build_parser, main  # noqa: F401
from tools.benchmark.flops import block_flops, mae_forward_flops  # noqa: F401  (flops.py imports nothing)
