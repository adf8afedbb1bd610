"""Preemption signals: SIGTERM (Kubernetes, SLURM at the time limit, `scancel`) and SIGUSR1
(`sbatch --signal=USR1@...`) only raise a flag; the checkpoint hook finishes the current
iteration, writes a resume checkpoint and exits with `EXIT_PREEMPTED`. A second signal of the
same kind gets the default action (the process ends at once), for an impatient operator."""
import os
import signal

EXIT_PREEMPTED = 75  # sysexits' EX_TEMPFAIL: "temporary failure, run again" (requeue the job)
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(Exception):
    """Raised after the resume checkpoint is written; `mae` turns it into exit code 75."""

    exit_code = EXIT_PREEMPTED


class PreemptionFlag:
    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is not None:  # second signal: default action now
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self.signum = signum

    def install(self) -> None:
        """Only the main thread may set handlers; dataloader workers forked later inherit them
        (so SIGUSR1, whose default is to terminate, does not kill a worker mid-batch)."""
        for s in SIGNALS:
            self._previous[s] = signal.signal(s, self._handle)

    def uninstall(self) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""
