"""After dVAE training: `tokenizer.pth`, a reconstruction picture and codebook-usage statistics
(used codes, perplexity), so a collapsed tokenizer (few codes, perplexity near 1) is visible."""
import json
import os.path as osp

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from torchvision.utils import save_image

from ..data import center_square
from ..hooks import atomic_save, bare_model
from ..registry import HOOKS
from .dvae import code_usage


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
        size = runner.train_dataloader.dataset.img_size
        imgs = torch.stack([center_square(ds.load_valid(i)[0], size) for i in range(min(self.num_images, len(ds)))])
        x = imgs.float().div(255).to(next(model.parameters()).device)
        recon, _ = model.reconstruct(x)
        pic = osp.join(runner.work_dir, "tokenizer_reconstruction.png")
        save_image(torch.cat([x, recon]).cpu(), pic, nrow=x.shape[0])  # top row: input, bottom: decoded tokens
        with open(osp.join(runner.work_dir, "codebook_usage.json"), "w") as f:
            json.dump(usage, f, indent=1)
        atomic_save(model.tokenizer_state(usage), osp.join(runner.work_dir, "tokenizer.pth"))
        flag = " (collapsed: most codes unused)" if usage["used_codes"] < 0.01 * model.vocab_size else ""
        runner.logger.info(f"tokenizer: {usage['used_codes']}/{model.vocab_size} codes used, perplexity "
                           f"{usage['perplexity']:.1f}{flag}; wrote tokenizer.pth, {osp.basename(pic)}, "
                           "codebook_usage.json")
