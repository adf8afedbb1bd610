"""The models a benchmark times and how one training step of each is built.

ours      pretrain.mae (fused AdamW where supported), optionally through torch.compile;
hf        transformers' `ViTMAEForPreTraining` (sdpa attention) + stock torch AdamW, as a user of
          that library would train it;
official  the facebookresearch/mae architecture rebuilt from timm blocks (official_mae.py) +
          AdamW on timm's weight-decay groups, as the official `main_pretrain.py` builds it.
"""
from typing import Callable, Optional

import torch

from tools.benchmark.args import COMPILE_MODES, SIZES  # noqa: F401  (the parser needs them without torch)

LR, WD, BETAS = 1.5e-4, 0.05, (0.9, 0.95)
PEERS = {"hf": "transformers.ViTMAEForPreTraining (sdpa) + torch.optim.AdamW",
         "official": "facebookresearch/mae models_mae.py architecture, rebuilt from timm blocks + torch.optim.AdamW"}


def build_ours(arch: str, args, device, encoder_mask_tokens: bool = False, decoder_depth: Optional[int] = None):
    from pretrain.mae import build_mae
    from pretrain.optim import build_adamw

    model = build_mae(arch, img_size=args.img_size, decoder_embed_dim=args.decoder_width,
                      decoder_depth=args.decoder_depth if decoder_depth is None else decoder_depth,
                      decoder_num_heads=16, mask_ratio=args.mask_ratio,
                      encoder_mask_tokens=encoder_mask_tokens).to(device)
    opt = build_adamw(model, LR, WD, BETAS)
    return model, opt


def peer_available(name: str = "hf") -> Optional[str]:
    """None if peer `name` can be built, else why not (one line)."""
    try:
        if name == "hf":
            from transformers import ViTMAEConfig, ViTMAEForPreTraining  # noqa: F401
        else:
            from timm.models.vision_transformer import Block  # noqa: F401
    except Exception as e:  # ImportError, or a broken install
        return f"{type(e).__name__}: {e}".splitlines()[0]
    return None


def build_peer(name: str, arch: str, args, device):
    from pretrain.mae import MAE_ARCHS

    dim, depth, heads, p = MAE_ARCHS[arch]
    if name == "hf":
        from transformers import ViTMAEConfig, ViTMAEForPreTraining

        cfg = ViTMAEConfig(hidden_size=dim, num_hidden_layers=depth, num_attention_heads=heads,
                           intermediate_size=4 * dim, patch_size=p, image_size=args.img_size,
                           decoder_hidden_size=args.decoder_width, decoder_num_hidden_layers=args.decoder_depth,
                           decoder_num_attention_heads=16, decoder_intermediate_size=4 * args.decoder_width,
                           mask_ratio=args.mask_ratio, norm_pix_loss=False, attn_implementation="sdpa")
        model = ViTMAEForPreTraining(cfg).to(device)
        return model, torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, weight_decay=WD)
    from timm.optim import param_groups_weight_decay

    from tools.benchmark.official_mae import OfficialMAERebuild

    model = OfficialMAERebuild(args.img_size, p, 3, dim, depth, heads, args.decoder_width, args.decoder_depth,
                               16, mask_ratio=args.mask_ratio).to(device)
    return model, torch.optim.AdamW(param_groups_weight_decay(model, WD), lr=LR, betas=BETAS)


def ours_call(model, x):
    return model(x)[0]


def hf_call(model, x):
    return model(pixel_values=x).loss


CALLS = {"ours": ours_call, "hf": hf_call, "official": ours_call}


def compiled(model, mode: str):
    """torch.compile of the model's forward (mask sampling included: the hash and argsort are plain
    tensor ops with static shapes, so they stay in the graph); backward is compiled with it by
    AOTAutograd. `reduce-overhead` replays the whole forward and backward as CUDA graphs."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; choose one of {COMPILE_MODES}")
    return torch.compile(model, mode=None if mode == "default" else mode)


def make_step(model, opt, call: Callable, precision: str, device: torch.device, x: torch.Tensor,
              cudagraphs: bool = False) -> Callable:
    """One training step: forward (autocast at `precision`) + backward + optimiser step + zero_grad."""
    from pretrain.optim import autocast_for

    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def step():
        if cudagraphs:  # a new iteration: outputs of the previous replay may be overwritten
            torch.compiler.cudagraph_mark_step_begin()
        with autocast_for(precision, device.type):
            loss = call(model, x)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach().clone() if cudagraphs else loss

    return step
