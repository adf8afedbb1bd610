"""Every `mae bench` option, kept apart from the benchmarks themselves so that `mae bench --help`
needs no torch. Each subcommand names its module; cli.py imports it only to run."""
SIZES = {"tiny": "mae_vit_tiny_patch16", "small": "mae_vit_small_patch16", "base": "mae_vit_base_patch16",
         "large": "mae_vit_large_patch16", "huge": "mae_vit_huge_patch14"}
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def common(s, batch, steps, warmup):
    s.add_argument("--batch", type=int, default=batch, help="images per step")
    s.add_argument("--img-size", type=int, default=224, help="input side in pixels")
    s.add_argument("--mask-ratio", type=float, default=0.75, help="fraction of patches removed")
    s.add_argument("--decoder-width", type=int, default=512, help="decoder embedding width")
    s.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="autocast precision of our step (fp16: CUDA only; auto: bf16 where it is fast)")
    s.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    s.add_argument("--device", default=None, choices=("cpu", "cuda"), help="default: cuda when available")
    s.add_argument("--steps", type=int, default=steps, help="timed steps per model")
    s.add_argument("--warmup", type=int, default=warmup, help="untimed warm-up steps per model")
    s.add_argument("--seed", type=int, default=0, help="seed of weights and inputs")
    s.add_argument("--json", default=None, help="write the results here")
    s.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul peak measurement")


def add_pretrain(sub) -> None:
    s = sub.add_parser("pretrain", help="our training step against the transformers ViTMAE / official-model peers")
    s.add_argument("--model", default="base", choices=sorted(SIZES), help="ViT size")
    s.add_argument("--decoder-depth", type=int, default=8, help="decoder blocks")
    s.add_argument("--peers", default="hf", help="comma list of peers to time: hf, official ('' for none)")
    s.add_argument("--peer-precision", default=None, choices=PRECISIONS,
                   help="peers' autocast precision (default: the same as --precision)")
    s.add_argument("--compile", action="store_true", help="torch.compile our model")
    s.add_argument("--compile-mode", default="default", choices=COMPILE_MODES,
                   help="torch.compile mode; reduce-overhead = CUDA graphs (MAE's shapes are static)")
    s.add_argument("--bf16-weights", action="store_true",
                   help="ours: bf16 linear weights with fp32 masters in AdamW, no per-weight autocast casts "
                        "(master_weights.py; same values as autocast)")
    s.add_argument("--with-eager", action="store_true",
                   help="with --compile / --bf16-weights: also time our plain eager step in the same run")
    s.add_argument("--no-peer", action="store_true", help="time ours only")
    s.add_argument("--profile", action="store_true",
                   help="also profile steps of each: time by kind of work (CUDA: kernel families, GPU idle share)")
    s.add_argument("--profile-steps", type=int, default=1, help="steps per profile")
    common(s, batch=8, steps=5, warmup=2)
    s.set_defaults(module="cmd_pretrain")


def add_table2(sub) -> None:
    t = sub.add_parser("table2", help="paper Table 2: encoder without vs with mask tokens")
    t.add_argument("--models", default="base,large", help="comma list of tiny/small/base/large/huge")
    t.add_argument("--decoder-depths", default="8,1", help="comma list of decoder depths")
    t.add_argument("--png", default="work_dirs/bench/table2.png", help="bar chart ('' for none)")
    common(t, batch=2, steps=3, warmup=1)
    t.set_defaults(module="cmd_table2")


def add_loader(sub) -> None:
    ld = sub.add_parser("loader", help="data pipeline images/s (N workers) against the training step")
    ld.add_argument("--data", default=None, help="image folder (default: embedded images as JPEGs)")
    ld.add_argument("--images", type=int, default=64, help="images timed per single-worker measurement")
    ld.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: cores)")
    ld.add_argument("--batches", type=int, default=4, help="batches timed through the DataLoader")
    ld.add_argument("--prefetch", type=int, default=4, help="batches prefetched per worker")
    ld.add_argument("--step-time", type=float, default=None, help="training step time in s at --batch")
    ld.add_argument("--model-ips", type=float, default=None, help="model images/s (skips measuring ViT-B)")
    ld.add_argument("--model-steps", type=int, default=2, help="timed ViT-B steps when measuring the model")
    common(ld, batch=8, steps=0, warmup=0)
    ld.set_defaults(module="cmd_loader")
