"""Resuming inside an epoch. mmengine's EpochBasedTrainLoop restores the iteration counter from a
checkpoint but always starts the epoch from its first batch, so a mid-epoch checkpoint would train
some batches twice. This loop skips, through the sampler, exactly the batches the checkpoint
already covers: no sample repeated or skipped, and no image decoded for the skipped part."""
import itertools

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import BatchSampler, Sampler

from ..registry import LOOPS


class ResumedEpochSampler(Sampler):
    """The wrapped sampler's order for this epoch, minus its first `skip` indices. Its length is
    the full epoch's, so iteration counts and schedules derived from it do not change."""

    def __init__(self, sampler, skip: int):
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self):
        return len(self.sampler)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """EpochBasedTrainLoop that continues a partly trained epoch after a mid-epoch resume."""

    def batches_done_in_epoch(self) -> int:
        return self._iter - self._epoch * len(self.dataloader)

    def run_epoch(self) -> None:
        start = self.batches_done_in_epoch()
        if start <= 0:
            return super().run_epoch()
        self.runner.call_hook("before_train_epoch")
        self.runner.model.train()
        print_log(f"resuming inside epoch {self._epoch + 1} after {start} of {len(self.dataloader)} batches",
                  logger="current")
        batch_sampler = self.dataloader.batch_sampler
        exact = type(batch_sampler) is BatchSampler
        if exact:  # skipping start * batch_size samples skips exactly `start` batches
            original = batch_sampler.sampler
            batch_sampler.sampler = ResumedEpochSampler(original, start * batch_sampler.batch_size)
            batches = enumerate(self.dataloader, start)
        else:  # any other batch sampler: load and drop the done batches (slower, still exact)
            batches = itertools.islice(enumerate(self.dataloader), start, None)
        try:
            for idx, data_batch in batches:
                self.run_iter(idx, data_batch)
        finally:
            if exact:
                batch_sampler.sampler = original
        self.runner.call_hook("after_train_epoch")
        self._epoch += 1
