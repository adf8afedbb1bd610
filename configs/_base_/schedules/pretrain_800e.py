# The paper's pretraining schedule: AdamW (0.9, 0.95), wd 0.05, lr = base_lr * total_batch / 256
# (set by `mae train` from the real batch: per-process batch x processes x accumulation), linear
# warmup for `warmup_epochs`, then half-cycle cosine to 0, both stepped every iteration. `mae train`
# derives `param_scheduler` and `train_cfg` from `max_epochs` / `warmup_epochs` unless a config sets
# them, so `--cfg-options max_epochs=1600` changes the whole schedule consistently.
base_lr = 1.5e-4
warmup_epochs = 40
max_epochs = 800
optim_wrapper = dict(
    type='PrecisionOptimWrapper',
    constructor='PretrainOptimWrapperConstructor',
    precision='auto',  # bf16 where the hardware runs it fast, else fp32; 'fp16' on CUDA uses a loss scaler
    optimizer=dict(type='AdamW', betas=(0.9, 0.95), weight_decay=0.05),
    # decay as the official main_pretrain.py: every weight matrix and the class / mask tokens, not biases or
    # norms; paramwise_cfg=dict(decay_tokens=False) keeps the tokens out of decay (this toolkit's former rule)
    accumulative_counts=1,
)
