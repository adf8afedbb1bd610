"""What `mae train` shows in the terminal: progress and problems, not mmengine's full record.

mmengine's Runner writes everything (a ~240-line environment dump, the whole config, the hook
table, library deprecation notices, a line every few iterations) to stdout and to its log file.
Here the log file keeps all of it; the terminal gets the run's own lines on stdout, warnings and
errors on stderr, and, when stdout is a terminal, one progress bar per stage (training epoch,
validation, test) instead of the per-iteration lines. `mae train` and `mae test` share it;
`--verbose` keeps mmengine's own console output.
"""
import logging
import re
import sys
import time

from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.runner import Runner

# Records that belong in the log file only. mmengine logs them as plain INFO/WARNING messages with
# no other mark, so they are recognised by their opening words.
FILE_ONLY = re.compile("|".join([
    r"\n-+\nSystem environment:",  # Runner._log_env: collect_env() dump
    r"Config:\n",  # Runner._log_env: the whole config (also dumped as a file in the work dir)
    r"Hooks will be executed in the following order",
    r"Distributed training is not used, all SyncBatchNorm",
    r"Dataset \w+ has no metainfo",  # the visualizer's dataset_meta: unused by pretraining
    r'"FileClient" will be deprecated', r'"HardDiskBackend" is the alias',  # mmengine's own internals
    r"The prefix is not set in metric class",  # metrics keep their bare names (mIoU, aAcc)
    r"known-harmless third-party notices hidden",  # transfer/quiet.py's record of what it hides
]))
# LoggerHook's per-iteration lines (val / test ones carry an eta, their end-of-loop metrics do
# not), replaced on a terminal by the progress bar.
ITER_LINE = re.compile(r"(Epoch|Iter)\(train\)|Exp name: |(Epoch|Iter)\((val|test)\).*  eta: ")


class _Filter(logging.Filter):
    def __init__(self, test):
        super().__init__()
        self.test = test

    def filter(self, record):
        return self.test(record)


def _not_file_only(record) -> bool:
    return not FILE_ONLY.match(record.getMessage())


def split_console(logger: logging.Logger) -> None:
    """Below WARNING to stdout, WARNING and above to stderr, file-only records to neither."""
    for h in list(logger.handlers):
        if type(h) is not logging.StreamHandler or h.stream is not sys.stdout or getattr(h, "split", False):
            continue  # a logger instance reused by name is split once
        h.split = True
        err = logging.StreamHandler(sys.stderr)
        err.setFormatter(h.formatter)
        err.setLevel(max(logging.WARNING, h.level))  # non-zero ranks only show errors, as before
        for f in h.filters:  # mmengine's duplicate-warning filter: its own instance (it remembers what it saw)
            err.addFilter(type(f)(f.name) if isinstance(f, logging.Filter) else f)
        err.addFilter(_Filter(_not_file_only))
        h.addFilter(_Filter(lambda r: r.levelno < logging.WARNING and _not_file_only(r)))
        logger.addHandler(err)


def console_handlers(logger: logging.Logger) -> list:
    return [h for h in logger.handlers if type(h) is logging.StreamHandler]


class QuietRunner(Runner):
    """mmengine's Runner with the console split above; the log file is unchanged."""

    def build_logger(self, log_level="INFO", log_file=None, **kwargs) -> MMLogger:
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        split_console(logger)
        return logger

    def _log_env(self, env_cfg: dict) -> None:
        super()._log_env(env_cfg)  # to the log file only (filtered above)
        self.logger.info(f"environment, config and every log line: {self.logger.log_file}")
        if "transfer.segmentation" in sys.modules:  # the package that hides them
            from transfer.quiet import note
            self.logger.info(note())


class ProgressBarHook(Hook):
    """One rich progress line per stage: each training epoch (iterations/s, images/s, ETA of the
    epoch and of the run, the latest loss), each validation and the test (iterations/s, images/s,
    ETA). The loss is read at most twice a second (reading it waits for the device). A validation
    inside an iteration-based training epoch is a second line under the training one."""

    priority = "NORMAL"  # before LoggerHook, so the bar is closed before epoch-end lines appear

    def __init__(self, console=None, refresh_s: float = 0.5):
        # console: a rich Console (tests); default stdout
        self.console, self.refresh_s = console, refresh_s
        self.progress, self.stages, self.filtered, self.loss = None, {}, False, None

    def before_run(self, runner) -> None:
        if not self.filtered:  # a runner that trains and then tests starts twice
            self.filtered = True
            for h in console_handlers(runner.logger):
                h.addFilter(_Filter(lambda r: not ITER_LINE.search(r.getMessage())))

    def _begin(self, runner, mode: str, label: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        if self.progress is None:
            console = self.console or Console(file=sys.stdout)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=12),
                                     MofNCompleteColumn(), TextColumn("{task.fields[stats]}"),
                                     console=console, redirect_stdout=False, redirect_stderr=False)
            # log lines written while the bar is live go through rich, above the bar
            self._streams = [(h, h.setStream(_RichStream(console)))
                             for h in console_handlers(runner.logger)
                             if h.stream is not sys.stderr or sys.stderr.isatty()]
            self.progress.start()
        now = time.perf_counter()
        self.stages[mode] = dict(task=self.progress.add_task(label, total=total, stats=""), t0=now,
                                 shown=now, iters=0, images=0, total=total)

    def _advance(self, runner, mode: str, batch_idx: int, data_batch, outputs) -> None:
        stage = self.stages.get(mode)
        if stage is None:
            return
        stage["iters"] += 1
        inputs = data_batch.get("inputs") if isinstance(data_batch, dict) else None
        stage["images"] += len(inputs) if inputs is not None else 0
        now = time.perf_counter()
        if now - stage["shown"] >= self.refresh_s or batch_idx + 1 == stage["total"]:
            stage["shown"] = now
            if mode == "train":
                loss = (outputs or {}).get("loss")
                if loss is not None:
                    self.loss = float(loss.detach() if hasattr(loss, "detach") else loss)
            self.progress.update(stage["task"], completed=batch_idx + 1,
                                 stats=self.stats(runner, mode, batch_idx, now))
        else:
            self.progress.update(stage["task"], completed=batch_idx + 1)

    def stats(self, runner, mode: str, batch_idx: int, now: float) -> str:
        stage = self.stages[mode]
        dt = max(now - stage["t0"], 1e-9)
        per_iter = dt / stage["iters"]
        left = _hms((stage["total"] - batch_idx - 1) * per_iter)
        speed = f"{stage['iters'] / dt:.1f} it/s  {stage['images'] / dt:.0f} img/s  eta {left}"
        if mode != "train":
            return speed
        left_run = (runner.max_iters - runner.iter - 1) * per_iter
        run = "" if self.by_iter else f" (run {_hms(left_run)})"  # by_iter: the line is the run
        loss = f"loss {self.loss:.4f}  " if self.loss is not None else ""
        return f"{loss}{speed}{run}"

    def _end(self, mode: str) -> None:
        stage = self.stages.pop(mode, None)
        if stage is None:
            return
        if self.stages:  # a validation inside a training epoch: the training line stays
            self.progress.remove_task(stage["task"])
            return
        self.progress.stop()
        for h, stream in self._streams:
            h.setStream(stream)
        self.progress = None

    def before_train_epoch(self, runner) -> None:
        from mmengine.runner import IterBasedTrainLoop

        self.loss = None
        self.by_iter = isinstance(runner.train_loop, IterBasedTrainLoop)
        if self.by_iter:  # one "epoch" of max_iters: its line is the whole run's
            self._begin(runner, "train", "training", runner.max_iters)
        else:
            self._begin(runner, "train", f"epoch {runner.epoch + 1}/{runner.max_epochs}",
                        len(runner.train_dataloader))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._advance(runner, "train", batch_idx, data_batch, outputs)

    def after_train_epoch(self, runner) -> None:
        self._end("train")

    def before_val_epoch(self, runner) -> None:
        self._begin(runner, "val", "validation", len(runner.val_dataloader))

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._advance(runner, "val", batch_idx, data_batch, outputs)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._end("val")

    def before_test_epoch(self, runner) -> None:
        self._begin(runner, "test", "test", len(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._advance(runner, "test", batch_idx, data_batch, outputs)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._end("test")


class _RichStream:
    """A file-like object for logging handlers that prints through a live rich console."""

    def __init__(self, console):
        self.console = console

    def write(self, text: str) -> None:
        if text.strip():
            self.console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)

    def flush(self) -> None:
        pass


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def build_runner(cfg, verbose: bool = False) -> Runner:
    """The Runner for `mae train` and `mae test`: quiet console and a progress bar on a terminal,
    unless verbose."""
    from mmengine.dist import is_main_process

    if verbose:
        return Runner.from_cfg(cfg)
    runner = QuietRunner.from_cfg(cfg)
    if sys.stdout.isatty() and is_main_process():
        runner.register_hook(ProgressBarHook())
    return runner
