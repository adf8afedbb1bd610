"""The `mae` command: train, test, visualize, convert, bench."""
import argparse
import sys

from tools.cli_args import DictAction, Parser


def _trust(args) -> None:
    from pretrain.checkpoint import trust_checkpoint

    for path in getattr(args, "trust_checkpoint", None) or []:
        trust_checkpoint(path)


def _train(args) -> None:
    from tools.train import train

    _trust(args)
    resume = {None: False, "auto": True}.get(args.resume, args.resume)
    train(args.config, work_dir=args.work_dir, resume=resume, options=args.cfg_options, verbose=args.verbose)


def _test(args) -> None:
    from tools.test import evaluate, metrics_table

    out = evaluate(args.config, args.checkpoint, work_dir=args.work_dir, options=args.cfg_options,
                   verbose=args.verbose)
    print(f"wrote {out['json']}")
    print(metrics_table(out["metrics"]))  # the last lines, as in `mae test ... | tail`


def _visualize(args) -> None:
    from tools.visualize import visualize

    _trust(args)
    path = visualize(args.checkpoint, args.images, args.out, mask_ratio=args.mask_ratio, seed=args.seed,
                     num_heads=args.heads, decoder_num_heads=args.decoder_heads, norm_pix_loss=args.norm_pix)
    print(f"wrote {path}")


def _convert(args) -> None:
    from tools.convert import convert

    convert(args.checkpoint, args.to, args.out, num_heads=args.heads, decoder_num_heads=args.decoder_heads,
            norm_pix_loss=args.norm_pix)


def _bench(args, rest) -> None:
    from tools import benchmark

    benchmark.main(rest)


def add_model_flags(p: argparse.ArgumentParser) -> None:
    """What weights do not store, for checkpoints without a config (default: the architecture table)."""
    p.add_argument("--heads", type=int, default=None, help="encoder attention heads")
    p.add_argument("--decoder-heads", type=int, default=None, help="decoder attention heads")
    p.add_argument("--norm-pix", action=argparse.BooleanOptionalAction, default=None,
                   help="whether the model was trained on normalised pixels (norm_pix_loss)")


TRUST_HELP = "unpickle this checkpoint file even though that runs code named inside it (repeatable)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="mae", description="Masked Autoencoder pretraining and transfer toolkit")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="run a training job from a config file")
    t.add_argument("config", help="an mmengine config file (configs/...)")
    t.add_argument("--work-dir", help="where logs, checkpoints and pictures go (default work_dirs/<config>)")
    t.add_argument("--resume", nargs="?", const="auto", choices=("auto", "strict"), default=None,
                   help="continue from the newest readable checkpoint in the work dir; with nothing saved yet, "
                        "--resume starts fresh (saying so) and --resume=strict stops with an error; a "
                        "finished run is left untouched unless max_epochs was raised")
    t.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="override config keys, e.g. train_dataloader.batch_size=16 max_epochs=5")
    t.add_argument("--trust-checkpoint", action="append", metavar="PATH", help=TRUST_HELP)
    t.add_argument("--verbose", action="store_true",
                   help="mmengine's full console output: environment, config, every log line, no progress "
                        "bar (default: those go to the log file only)")
    t.set_defaults(func=_train)

    e = sub.add_parser("test", help="run a config's test loop on a checkpoint; print and save the metrics")
    e.add_argument("config", help="the config whose test_dataloader/test_evaluator to run")
    e.add_argument("checkpoint", help="weights in any layout pretrain.checkpoint reads (loaded strictly)")
    e.add_argument("--work-dir", help="where logs and test_metrics.json go (default: "
                   "test_<checkpoint name>/ beside the checkpoint); a metrics file of another "
                   "checkpoint there is an error, not overwritten")
    e.add_argument("--cfg-options", nargs="+", action=DictAction, default={},
                   help="override config keys, e.g. test_dataloader.batch_size=64")
    e.add_argument("--verbose", action="store_true",
                   help="mmengine's full console output: environment, config, every log line, no "
                        "progress bar (default: those go to the log file only)")
    e.set_defaults(func=_test)

    v = sub.add_parser("visualize", help="draw original / masked / reconstruction for some images")
    v.add_argument("checkpoint", help="a pretraining checkpoint (ours, official MAE, HF folder)")
    v.add_argument("images", nargs="+", help="image files to draw")
    v.add_argument("--out", default="reconstruction.png", help="PNG to write")
    v.add_argument("--mask-ratio", type=float, default=None, help="default: the checkpoint's")
    v.add_argument("--seed", type=int, default=0, help="seed of the mask noise")
    add_model_flags(v)
    v.add_argument("--trust-checkpoint", action="append", metavar="PATH", help=TRUST_HELP)
    v.set_defaults(func=_visualize)

    c = sub.add_parser("convert", help="write a checkpoint in timm, Hugging Face or official MAE layout")
    c.add_argument("checkpoint", help="any checkpoint mae reads: ours, official MAE, mmengine, timm, HF folder")
    c.add_argument("--to", required=True, choices=["timm", "hf", "official"],
                   help="timm: encoder state dict (.pth, or .safetensors by extension); hf: a folder for "
                        "from_pretrained; official: {'model': state_dict}, encoder + decoder")
    c.add_argument("--out", required=True, help="output file (timm, official) or folder (hf)")
    add_model_flags(c)
    c.set_defaults(func=_convert)

    from tools import synth_ade20k
    synth_ade20k.add_parser(sub)
    from tools import synth_coco
    synth_coco.add_parser(sub)
    from tools.ablate import cli as ablate_cli
    ablate_cli.add_parser(sub)

    from tools import compare_targets
    compare_targets.add_parser(sub)

    b = sub.add_parser("bench", help="speed benchmarks (mae bench -h)", add_help=False)
    b.set_defaults(func=_bench)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "bench":
        args = argparse.Namespace(func=_bench)
        return _run(lambda: _bench(args, argv[1:]))
    args = parser.parse_args(argv)
    return _run(lambda: args.func(args))


def builder_error(e: Exception):
    """A component named in the config that does not take the arguments given, or a type no
    registry knows: mmengine's builder raises these at its own call, so the innermost frame is
    its `build_from_cfg`. Errors raised inside a component are bugs and keep their traceback."""
    if not isinstance(e, (TypeError, KeyError)) or e.__traceback__ is None:
        return None
    tb = e.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    if tb.tb_frame.f_code.co_name != "build_from_cfg":
        return None
    return f"config error: {e.args[0] if e.args else e}"


def _run(fn) -> int:
    """Our error classes (pretrain.errors) become one line on stderr, exit code 2 (3 for a
    diverged run); preemption and failed checkpoint saves have their own exit codes; anything else
    is a bug and keeps its traceback. (The classes are imported only when something went wrong, so
    that `--help` stays free of torch.)"""
    try:
        fn()
    except Exception as e:
        from pretrain.errors import MAEError, NonFiniteLoss
        from pretrain.resilience import EXIT_SAVE_FAILED, CheckpointSaveError, Preempted

        if isinstance(e, Preempted):  # a resume checkpoint was written: requeue scripts look for this code
            print(f"mae: {e}", file=sys.stderr)
            return e.exit_code
        if isinstance(e, CheckpointSaveError):
            print(f"mae: error: {e}", file=sys.stderr)
            return EXIT_SAVE_FAILED
        if isinstance(e, MAEError):
            print(f"mae: error: {e}", file=sys.stderr)
            return 3 if isinstance(e, NonFiniteLoss) else 2
        message = builder_error(e)
        if message is None:
            raise
        print(f"mae: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
