"""What an arm needs beyond MaskedAutoencoder overrides, built from the project's own pieces:
the PCA target's basis (pretrain/pca.py), a trained tokenizer for the token target (a
tokenizer config, trained by `mae train`'s path) and the pretraining data pipeline's augmentations
(pretrain/data.py) for the augmentation suite."""
import os
import os.path as osp

import torch

from pretrain.data import SeededAugDataset
from pretrain.pca import fit_pca
from pretrain.patches import patchify
from pretrain.tokenizers import tokenizer_type
from tools.ablate.engine import log, normalise

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class TensorImages(SeededAugDataset):
    """In-memory uint8 images, grey (N, H, W) or (N, C, H, W), through the pretraining pipeline's
    transform, seeded per (seed, epoch, sample) exactly as its ImageFolder is."""

    def __init__(self, images: torch.Tensor, seed: int, **aug):
        super().__init__(img_size=images.shape[-1], seed=seed, **aug)
        self.images = images.cpu()

    def __len__(self):
        return len(self.images)

    def load(self, index: int) -> torch.Tensor:
        img = self.images[index]
        return img.unsqueeze(0) if img.dim() == 2 else img


def pipeline_transform(images: torch.Tensor, seed: int, aug: dict):
    """`transform(idx, epoch)` for tools.ablate.engine.pretrain_mae: the uint8 images x[idx]
    after the data pipeline's crop / flip / colour jitter."""
    ds = TensorImages(images, seed, **aug)
    grey = images.dim() == 3  # the study's grey batches are (B, H, W)

    def transform(idx, epoch):
        out = [ds[(epoch, int(i))]["inputs"] for i in idx.tolist()]
        return torch.stack([o[0] for o in out] if grey else out).to(images.device)
    return transform


def pca_setup(images: torch.Tensor, scale: dict, spec: dict):
    """`setup(mae)`: fit the PCA target's basis on the patches of the (normalised) training images
    (the first `pca_fit_images` of them, 0: all)."""
    n = scale["pca_fit_images"] or len(images)

    def setup(mae):
        patches = patchify(normalise(images[:n], spec).float(), scale["arch"]["patch_size"])
        mean, comps = fit_pca(patches.flatten(0, 1).cpu())
        mae.target_maker.set_basis(mean.to(mae.target_maker.mean.device), comps.to(mae.target_maker.mean.device))
    return setup


def tokenizer_options(budget: dict, image_dir: str, scale: dict) -> dict:
    """The scale's tokenizer config on the suite's own training images, one token per MAE patch, its
    view at `grid * downsample` pixels (Fashion-MNIST: 28 px, 4x4 cells, 512 codes, as 8192 codes for
    2-60k small grey images would leave most unused)."""
    tok, arch = scale["tokenizer"], scale["arch"]
    size = arch["img_size"] // arch["patch_size"] * tok["downsample"]
    return {"max_epochs": budget["tokenizer_epochs"], "model.vocab_size": tok["vocab_size"],
            "model.downsample": tok["downsample"],
            "train_dataloader.dataset": dict(_delete_=True, type="ImageFolder", root=image_dir,
                                             img_size=size, scale=(0.2, 1.0))}


def train_tokenizer(images: torch.Tensor, budget: dict, folder: str, scale: dict, image_dir: str = None) -> dict:
    """The tokenizer for the token arm, trained once per suite folder and config (reused afterwards), on
    `image_dir` (an image-folder scale's training folder) or on the in-memory images written as PNGs."""
    from torchvision.io import write_png

    config = scale["tokenizer"]["config"]
    written = image_dir is None
    image_dir = image_dir or osp.join(folder, "images")  # shared by every tokenizer config of the suite
    folder = osp.join(folder, osp.splitext(osp.basename(config))[0])
    path = osp.join(folder, "tokenizer.pth")
    options = tokenizer_options(budget, image_dir, scale)
    info = {"config": config, "checkpoint": path, "train_images": len(images) if written else image_dir,
            "options": {k: v for k, v in options.items() if k != "train_dataloader.dataset"}}
    if not osp.isfile(path):
        from tools.train import train

        if written:
            os.makedirs(image_dir, exist_ok=True)
            for i, img in enumerate(images.cpu()):  # the config's ImageFolder path reads files
                write_png(img.unsqueeze(0) if img.dim() == 2 else img, osp.join(image_dir, f"{i:05d}.png"))
        log(f"token target: training the tokenizer ({config}, {budget['tokenizer_epochs']} "
            f"epoch(s) on {info['train_images']} images)")
        train(osp.join(REPO, config), work_dir=folder, options=options)
    usage = osp.join(folder, "codebook_usage.json")
    if osp.isfile(usage):
        import json
        info["usage"] = json.load(open(usage))
    return info


def pixels(stat) -> tuple:
    """A normalisation statistic (one value for grey, three for RGB) in 0-255 units, per RGB channel."""
    return tuple(v * 255 for v in stat) if isinstance(stat, (list, tuple)) else (stat * 255,) * 3


def resolve(arm: dict, budget: dict, data: dict, seed: int, folder: str, scale: dict, spec: dict) -> tuple:
    """(model overrides, setup(mae) or None, transform or None, info) for one arm; `folder` is the
    suite's folder (the tokenizer lives there)."""
    model, setup, transform, info = dict(arm["model"]), None, None, {}
    images = data["train"][0]
    target = model.get("target")
    kind = target.get("type") if isinstance(target, dict) else target
    if kind == "pca":
        setup = pca_setup(images, scale, spec)
    elif kind == "token":
        info["tokenizer"] = train_tokenizer(images, budget, osp.join(folder, "tokenizer"), scale,
                                            data.get("image_dir"))
        model["target"] = dict(target, tokenizer=dict(  # the tokenizer undoes the study's normalisation
            type=tokenizer_type(info["tokenizer"]["checkpoint"]), checkpoint=info["tokenizer"]["checkpoint"], mean=pixels(spec["mean"]),
            std=pixels(spec["std"])))
    if "augment" in arm:
        transform = pipeline_transform(images, seed, arm["augment"])
    return model, setup, transform, info
