"""Evaluation: predictions of a trained run and their metrics (`evaluate`, `metrics`), jet
observables and the boosted-tree physics floor (`observables`, `floor`), and figures (`plots`).

Uses `training.run` to read run folders; imports nothing from `cost`, `study` or `cli`.
"""
