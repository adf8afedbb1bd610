"""ADE20K semantic segmentation with UperNet on the MAE ViT, through mmsegmentation.

The only place mmseg is imported. Configs load it with
`custom_imports = dict(imports=['transfer.segmentation'])`, which registers into mmseg's registries:
the `MAEViT` backbone, and the `ADE20KFolder` / `SyntheticADE20KDataset` readers. Neck
(`Feature2Pyramid`), heads (`UPerHead`, `FCNHead`), pipeline, metric (`IoUMetric`) and inference
(whole / slide / multi-scale + flip) are mmseg's own.
"""
from transfer.quiet import hide_known_warnings, quiet_import

hide_known_warnings()  # mmcv's and mmseg's notices that say nothing about a run
quiet_import("mmseg.datasets")  # its transforms, datasets (it prints "Could not import OneDL")
import mmseg.evaluation  # noqa: F401,E402  (IoUMetric)
import mmseg.engine  # noqa: F401,E402  (SegVisualizationHook)
import mmseg.models  # noqa: F401,E402  (EncoderDecoder, Feature2Pyramid, UPerHead, FCNHead)
import mmseg.visualization  # noqa: F401,E402  (SegLocalVisualizer: pictures with the class palette)

# configs name mae.LayerDecayOptimWrapperConstructor
from transfer import layer_decay  # noqa: F401,E402

from .backbone import MAEViT  # noqa: E402
from .datasets import ADE20KFolder, SyntheticADE20KDataset  # noqa: E402

__all__ = ["MAEViT", "ADE20KFolder", "SyntheticADE20KDataset"]
