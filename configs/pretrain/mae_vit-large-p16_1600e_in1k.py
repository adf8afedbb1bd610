_base_ = ['./mae_vit-large-p16_800e_in1k.py']
max_epochs = 1600
