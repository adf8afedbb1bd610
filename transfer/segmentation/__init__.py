"""ADE20K semantic segmentation with UperNet on the MAE ViT, through mmsegmentation.

The only place mmseg is imported. Configs load it with
`custom_imports = dict(imports=['transfer.segmentation'])`, which registers into mmseg's registries:
the `MAEViT` backbone, and the `ADE20KFolder` / `SyntheticADE20KDataset` readers. Neck
(`Feature2Pyramid`), heads (`UPerHead`, `FCNHead`), pipeline, metric (`IoUMetric`) and inference
(whole / slide / multi-scale + flip) are mmseg's own.
"""
import mmseg.datasets  # noqa: F401  (registers mmseg's transforms, datasets)
import mmseg.evaluation  # noqa: F401  (IoUMetric)
import mmseg.engine  # noqa: F401  (SegVisualizationHook)
import mmseg.models  # noqa: F401  (EncoderDecoder, Feature2Pyramid, UPerHead, FCNHead)
import mmseg.visualization  # noqa: F401  (SegLocalVisualizer: pictures with the class palette)

from transfer import layer_decay  # noqa: F401  (configs name mae.LayerDecayOptimWrapperConstructor)

from .backbone import MAEViT
from .datasets import ADE20KFolder, SyntheticADE20KDataset

__all__ = ["MAEViT", "ADE20KFolder", "SyntheticADE20KDataset"]
