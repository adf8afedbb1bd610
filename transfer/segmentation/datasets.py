"""ADE20K readers: mmseg's `ADE20KDataset` with the checks it lacks, and a synthetic set made on demand.

mmseg pairs `images/x.jpg` with `annotations/x.png` by name without looking; a missing label map
then fails deep inside the loader with no file name. These subclasses fail at build time, naming
the image, and keep everything else (suffixes, `reduce_zero_label`, 150 classes, palette) mmseg's.
"""
import json
import os.path as osp

from mmengine.dist import barrier, get_rank
from mmseg.datasets import ADE20KDataset
from mmseg.registry import DATASETS

from pretrain.errors import DataError

from .synthetic import MARKER, write_ade20k


@DATASETS.register_module()
class ADE20KFolder(ADE20KDataset):
    """`ADEChallengeData2016/{images,annotations}/{training,validation}`, checked before training."""

    def load_data_list(self) -> list:
        img_dir = self.data_prefix.get("img_path")
        ann_dir = self.data_prefix.get("seg_map_path")
        if not self.ann_file and not osp.isdir(img_dir):
            raise DataError(f"ADE20K image folder not found: {img_dir} (expected the layout "
                            f"ADEChallengeData2016/images/<split> beside annotations/<split>)")
        data = super().load_data_list()
        if not data:
            raise DataError(f"no {self.img_suffix} images in {img_dir}")
        if ann_dir is not None:
            for info in data:
                if not osp.isfile(info["seg_map_path"]):
                    raise DataError(f"image {info['img_path']} has no annotation: "
                                    f"{info['seg_map_path']} does not exist")
        return data


@DATASETS.register_module()
class SyntheticADE20KDataset(ADE20KFolder):
    """An `ADE20KFolder` whose tree is generated first if absent (`synthetic`: the arguments of
    `write_ade20k`), so a tiny config trains on a fresh install. A tree made with other arguments
    is an error rather than silently reused."""

    def __init__(self, synthetic: dict, data_root: str = "", metainfo: dict = None, **kwargs):
        marker = osp.join(data_root, MARKER)
        if get_rank() == 0 and not osp.exists(marker):
            if osp.isdir(osp.join(data_root, "images")):
                raise DataError(f"{data_root} holds images but no {MARKER}: not a synthetic set; "
                                f"use ADE20KFolder for real data")
            print(f"generating the synthetic ADE20K set {data_root} ({synthetic})", flush=True)
            write_ade20k(data_root, **synthetic)
        barrier()
        with open(marker) as f:
            made = json.load(f)
        wanted = {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in synthetic.items()}
        if "size" in wanted and isinstance(wanted["size"], int):
            wanted["size"] = [wanted["size"]] * 2
        differ = {k: (made.get(k), v) for k, v in wanted.items() if made.get(k) != v}
        if differ:
            raise DataError(f"{data_root} was generated with other settings {differ} (found, wanted); "
                            f"delete it or change data_root")
        if metainfo is None:  # the set uses ADE20K's first `num_classes` classes, with their colours
            n = made["num_classes"]
            metainfo = dict(classes=self.METAINFO["classes"][:n], palette=self.METAINFO["palette"][:n])
        super().__init__(data_root=data_root, metainfo=metainfo, **kwargs)
