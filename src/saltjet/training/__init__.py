"""Training: the loop (`loop.train`), the run folder it writes (`run`: file names, weights, config.yaml
and the one strict JSON/JSONL writer), the training log (`log`: metrics.csv, TensorBoard), the
objective (losses and validation metrics) and torchrun/DDP set-up (`distributed`).

Imports nothing from `evaluation`, `cost`, `study` or `cli`.
"""
