"""`mae ablate SUITE`: the paper's ablations (Table 1, Figures 5, 7, 9) at small scale, one command.

Suites are data (suites.py): each arm is a set of overrides of one small pretraining config
(engine.py's tiny ViT on Fashion-MNIST) followed by the same evaluation
(linear probe on cached features, and fine-tuning). A scale (scale.py, configs/ablate/) sets the
model, decoder widths, normalisation, budgets and data reader (data.py): `--scale imagenet100`
runs the same suites with ViT-B/16 on ImageNet-100. runner.py caches finished arms; report.py
writes the table, JSON and plot beside the paper's numbers.
"""
