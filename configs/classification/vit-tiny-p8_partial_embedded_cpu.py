# Tiny CPU partial fine-tune (no dataset needed): the last block, the final norm and the head of the
# demo's ViT train; the other blocks are frozen and stay in eval mode. One key picks the point:
#   --cfg-options model.trainable=0 ... 6, 'last_mlp' or 'all'
_base_ = ['./vit-tiny-p8_ft_embedded_cpu.py']
model = dict(trainable=1)
