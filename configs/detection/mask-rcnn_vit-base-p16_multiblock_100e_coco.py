# The MAE paper's detection adapter on the ViTDet recipe: the pyramid's stride 4/8/16/32 levels come from
# blocks 2, 5, 8, 11 (evenly spaced) instead of all from the last block.
_base_ = ['_base_/mask-rcnn_vitdet_coco.py']
model = dict(backbone=dict(type='MultiBlockPyramid', net=dict(out_indices=(2, 5, 8, 11))))
