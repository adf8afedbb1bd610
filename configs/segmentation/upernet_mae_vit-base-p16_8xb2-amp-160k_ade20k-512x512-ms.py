# Multi-scale (0.5-1.75) + flip test of the ViT-B recipe: mmseg's SegTTAModel around the same model.
#   mae test <this config> work_dirs/upernet_mae_vit-base-p16_8xb2-amp-160k_ade20k-512x512/iter_160000.pth
_base_ = './upernet_mae_vit-base-p16_8xb2-amp-160k_ade20k-512x512.py'
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
