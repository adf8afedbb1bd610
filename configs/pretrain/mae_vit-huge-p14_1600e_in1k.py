_base_ = ['./mae_vit-huge-p14_800e_in1k.py']
max_epochs = 1600
