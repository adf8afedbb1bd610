"""MAE checkpoint -> segmentation backbone, through the one checkpoint library.

What may legitimately differ from a pretraining checkpoint, and nothing else: the relative position
bias tables are new (zero-initialised, as in MAE's transfer), and the encoder's final `norm` is not
part of the backbone. Position tables are resized to the crop's grid by the library and reported.
"""
from pretrain.checkpoint import LoadReport, load_pretrained

ALLOW_MISSING = ("blocks.*.attn.relative_position_bias_table",)
ALLOW_UNEXPECTED = ("norm.*", "fc_norm.*", "head.*")


def load_mae_checkpoint(backbone, path_or_state) -> LoadReport:
    """Load an MAE encoder (ours, official, mmengine, timm or Hugging Face layout) strictly into
    `backbone` but for the keys above; raises `CheckpointError` naming anything else."""
    return load_pretrained(backbone, path_or_state, strict=True, allow_missing=ALLOW_MISSING,
                           allow_unexpected=ALLOW_UNEXPECTED)
