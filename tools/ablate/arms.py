"""What an arm needs beyond MaskedAutoencoder overrides, built from the project's own pieces:
the PCA target's basis (pretrain/pca.py), a trained dVAE tokenizer for the token target (the
tokenizer config, trained by `mae train`'s path) and the pretraining data pipeline's augmentations
(pretrain/data.py) for the augmentation suite."""
import os
import os.path as osp

import torch

from pretrain.data import SeededAugDataset
from pretrain.pca import fit_pca
from pretrain.targets import patchify
from tools.study_classification import ARCH, MEAN, STD, log, normalise

TOKENIZER_CONFIG = "configs/tokenizer/dvae-v512-d8_embedded_cpu.py"
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class TensorImages(SeededAugDataset):
    """In-memory grey images (N, H, W) uint8 through the pretraining pipeline's transform, seeded per
    (seed, epoch, sample) exactly as its ImageFolder is."""

    def __init__(self, images: torch.Tensor, seed: int, **aug):
        super().__init__(img_size=images.shape[-1], seed=seed, **aug)
        self.images = images.cpu()

    def __len__(self):
        return len(self.images)

    def load(self, index: int) -> torch.Tensor:
        return self.images[index].unsqueeze(0)


def pipeline_transform(images: torch.Tensor, seed: int, aug: dict):
    """`transform(idx, epoch)` for tools.study_classification.pretrain_mae: the uint8 images x[idx]
    after the data pipeline's crop / flip / colour jitter."""
    ds = TensorImages(images, seed, **aug)

    def transform(idx, epoch):
        return torch.stack([ds[(epoch, int(i))]["inputs"][0] for i in idx.tolist()]).to(images.device)
    return transform


def pca_setup(images: torch.Tensor):
    """`setup(mae)`: fit the PCA target's basis on the patches of the (normalised) training images."""
    def setup(mae):
        mean, comps = fit_pca(patchify(normalise(images).float(), ARCH["patch_size"]).flatten(0, 1).cpu())
        mae.target_maker.set_basis(mean.to(mae.target_maker.mean.device), comps.to(mae.target_maker.mean.device))
    return setup


def tokenizer_options(budget: dict, image_dir: str) -> dict:
    """The tokenizer config on the suite's own training images: 28 px, one token per 4x4 patch (the
    MAE's patch grid at full resolution), a 512-code vocabulary (8192 codes for 2-60k small grey
    images would leave most unused)."""
    return {"max_epochs": budget["tokenizer_epochs"], "model.vocab_size": 512, "model.downsample": 4,
            "train_dataloader.dataset": dict(_delete_=True, type="ImageFolder", root=image_dir,
                                             img_size=ARCH["img_size"], scale=(0.2, 1.0))}


def train_tokenizer(images: torch.Tensor, budget: dict, folder: str) -> dict:
    """The dVAE tokenizer for the token arm, trained once per suite folder (reused afterwards)."""
    from torchvision.io import write_png

    path = osp.join(folder, "tokenizer.pth")
    image_dir = osp.join(folder, "images")
    options = tokenizer_options(budget, image_dir)
    info = {"config": TOKENIZER_CONFIG, "checkpoint": path, "train_images": len(images),
            "options": {k: v for k, v in options.items() if k != "train_dataloader.dataset"}}
    if not osp.isfile(path):
        from tools.train import train

        os.makedirs(image_dir, exist_ok=True)
        for i, img in enumerate(images.cpu()):  # the config's ImageFolder path reads files
            write_png(img.unsqueeze(0), osp.join(image_dir, f"{i:05d}.png"))
        log(f"token target: training the dVAE tokenizer ({TOKENIZER_CONFIG}, {budget['tokenizer_epochs']} "
            f"epoch(s) on {len(images)} images)")
        train(osp.join(REPO, TOKENIZER_CONFIG), work_dir=folder, options=options)
    usage = osp.join(folder, "codebook_usage.json")
    if osp.isfile(usage):
        import json
        info["usage"] = json.load(open(usage))
    return info


def resolve(arm: dict, budget: dict, data: dict, seed: int, folder: str) -> tuple:
    """(model overrides, setup(mae) or None, transform or None, info) for one arm; `folder` is the
    suite's folder (the tokenizer lives there)."""
    model, setup, transform, info = dict(arm["model"]), None, None, {}
    images = data["train"][0]
    target = model.get("target")
    kind = target.get("type") if isinstance(target, dict) else target
    if kind == "pca":
        setup = pca_setup(images)
    elif kind == "token":
        info["tokenizer"] = train_tokenizer(images, budget, osp.join(folder, "tokenizer"))
        model["target"] = dict(target, tokenizer=dict(  # the tokenizer undoes the study's normalisation
            type="dvae", checkpoint=info["tokenizer"]["checkpoint"], mean=(MEAN * 255,) * 3, std=(STD * 255,) * 3))
    if "augment" in arm:
        transform = pipeline_transform(images, seed, arm["augment"])
    return model, setup, transform, info
