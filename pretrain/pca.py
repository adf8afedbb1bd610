"""Fitting the PCA target's basis once, on training patches, before pretraining starts."""
import os.path as osp

import torch
from mmengine.hooks import Hook

from .hooks import bare_model
from .registry import HOOKS
from .resilience.atomic import atomic_torch_save
from .patches import patchify


def fit_pca(patches: torch.Tensor):
    """(mean (D,), components (D, D) rows sorted by explained variance) of (N, D) patches."""
    x = patches.double()
    mean = x.mean(0)
    cov = (x - mean).T @ (x - mean) / max(1, x.shape[0] - 1)
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    return mean.float(), vecs.flip(1).T.contiguous().float()


@HOOKS.register_module()
class PCATargetHook(Hook):
    """Before training, when the model's pca target has no basis yet (a resumed run has it from
    its checkpoint): fit it on the patches of `num_batches` training batches and save `pca_target.pth`."""

    priority = "VERY_HIGH"

    def __init__(self, num_batches: int = 16):
        self.num_batches = num_batches

    @torch.no_grad()
    def before_train(self, runner):
        model = bare_model(runner)
        target = getattr(model, "target_maker", None)
        if getattr(target, "kind", None) != "pca" or bool(target.fitted):
            return
        patches = []
        for i, batch in enumerate(runner.train_dataloader):
            if i >= self.num_batches:
                break
            imgs = model.data_preprocessor(batch, False)["inputs"]
            patches.append(patchify(imgs.float(), model.patch_size).flatten(0, 1).cpu())
        x = torch.cat(patches)
        mean, comps = fit_pca(x)
        target.set_basis(mean.to(target.mean.device), comps.to(target.mean.device))
        basis = {"mean": mean, "components": comps[: target.k], "patches": x.shape[0]}
        atomic_torch_save(basis, osp.join(runner.work_dir, "pca_target.pth"))
        runner.logger.info(f"pca target: fitted k={target.k} of {x.shape[1]} components on {x.shape[0]} patches")
