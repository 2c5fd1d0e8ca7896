"""File names of a study's output folder (the tree is drawn in `saltjet.study.runner`).

Constants only, so that the runner, reuse, figures, the report writer and `saltjet plot` share one
definition without importing each other.
"""

RESULTS_FILE = "results.json"  # every number the report shows (the report is rendered from it)
COSTS_FILE = "costs.json"  # params, FLOPs and latency of each model config, measured once per study folder
EVAL_FILE = "study_eval.json"  # a run's evaluation on the held-out jets (its presence = run done)
PREDICTIONS_FILE = "study_predictions.npz"  # a run's held-out predictions (for `saltjet plot`)
REUSED_FILE = "reused_from.txt"  # in a run copied from a sibling study: that run's folder
ATTENTION_JET_FILE = "attention_jet.npz"  # the jet the attention figures show
