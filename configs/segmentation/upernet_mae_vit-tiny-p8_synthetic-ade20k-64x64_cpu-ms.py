# Multi-scale (0.5-1.75) + flip test of the tiny CPU model: mmseg's SegTTAModel around the same model.
#   mae test <this config> work_dirs/upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu/iter_200.pth
_base_ = './upernet_mae_vit-tiny-p8_synthetic-ade20k-64x64_cpu.py'
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
