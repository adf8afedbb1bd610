"""After tokenizer training (dVAE or VQ-VAE): `tokenizer.pth`, a reconstruction picture and codebook-usage
statistics (used codes, perplexity), so a collapsed tokenizer (few codes, perplexity near 1) is visible:
the statistics are logged, written to `codebook_usage.json` and printed under the picture, whose token-map
column colours each cell by its id (a collapsed tokenizer paints one flat colour)."""
import json
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ..data import center_square
from ..hooks import bare_model
from ..registry import HOOKS
from ..resilience.atomic import atomic_torch_save
from ..visualize import save_reconstruction_png
from .base import code_usage

COLLAPSED = 0.01  # fewer than this fraction of the codes in use: flagged as collapsed


def usage_line(usage: dict) -> str:
    flag = " (collapsed: most codes unused)" if usage["used_fraction"] < COLLAPSED else ""
    return (f"{usage['used_codes']}/{usage['vocab_size']} codes used ({100 * usage['used_fraction']:.1f}%), "
            f"perplexity {usage['perplexity']:.1f}{flag}")


def token_map(ids: torch.Tensor, size: int) -> torch.Tensor:
    """(B, h, w) ids -> (B, 3, size, size) picture, one fixed pseudo-random colour per id."""
    palette = torch.rand(int(ids.max()) + 1, 3, generator=torch.Generator().manual_seed(0))
    pic = palette[ids.cpu()].permute(0, 3, 1, 2)
    return torch.nn.functional.interpolate(pic, size=(size, size), mode="nearest")


@HOOKS.register_module()
class TokenizerReportHook(Hook):
    priority = "LOW"

    def __init__(self, num_images: int = 8, usage_batches: int = 8):
        self.num_images, self.usage_batches = num_images, usage_batches

    @torch.no_grad()
    def after_train(self, runner):
        if not is_main_process():
            return
        model = bare_model(runner)
        model.eval()
        ids = []
        for i, batch in enumerate(runner.train_dataloader):
            if i >= self.usage_batches:
                break
            ids.append(model.reconstruct(model.data_preprocessor(batch, False)["inputs"])[1].cpu())
        usage = code_usage(torch.cat(ids), model.vocab_size)
        usage["images"] = int(sum(t.shape[0] for t in ids))
        ds = runner.train_dataloader.dataset
        imgs = torch.stack([center_square(ds.load_valid(i)[0], ds.img_size)
                            for i in range(min(self.num_images, len(ds)))])
        x = imgs.float().div(255).to(next(model.parameters()).device)
        recon, pic_ids = model.reconstruct(x)
        usage["reconstruction_mse"] = float(((recon - x) ** 2).mean())
        pic = osp.join(runner.work_dir, "tokenizer_reconstruction.png")
        save_reconstruction_png({"input": x.cpu(), "decoded tokens": recon.cpu(),
                                 "token map": token_map(pic_ids, x.shape[-1])}, pic,
                                footer=f"{type(model).__name__}: {usage_line(usage)}\nover {usage['images']} "
                                       f"training crops; reconstruction MSE {usage['reconstruction_mse']:.4f}")
        with open(osp.join(runner.work_dir, "codebook_usage.json"), "w") as f:
            json.dump(usage, f, indent=1)
        atomic_torch_save(model.tokenizer_state(usage), osp.join(runner.work_dir, "tokenizer.pth"))
        runner.logger.info(f"tokenizer: {usage_line(usage)}; wrote tokenizer.pth, {osp.basename(pic)}, "
                           "codebook_usage.json")
