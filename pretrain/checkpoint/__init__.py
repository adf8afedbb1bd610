"""The one checkpoint library: read any supported layout into our key names, tell the
architecture from the weights, load strictly with a report, write other toolkits' layouts.

    state = read_checkpoint("mae_pretrain_vit_base.pth")   # ours, official, mmengine, timm, HF folder
    report = load_pretrained(vit, "mae_pretrain_vit_base.pth", allow_missing=("head.*", "fc_norm.*"))
    logger.info(report.summary())
"""
from .arch import WeightsArch, infer_arch, resolve_model_cfg
from .files import (Checkpoint, CheckpointError, UntrustedCheckpoint, load_checkpoint, load_file, read_checkpoint,
                    read_state_dict, save_state, trust_checkpoint, unwrap)
from .hf import from_hf, hf_config, to_hf
from .load import LoadReport, encoder_state, is_encoder_key, load_pretrained, load_state

__all__ = ["Checkpoint", "CheckpointError", "LoadReport", "UntrustedCheckpoint", "WeightsArch", "encoder_state",
           "from_hf", "hf_config", "infer_arch", "is_encoder_key", "load_checkpoint", "load_file",
           "load_pretrained", "load_state", "read_checkpoint", "read_state_dict", "resolve_model_cfg",
           "save_state", "to_hf", "trust_checkpoint", "unwrap"]
