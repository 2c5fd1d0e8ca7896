"""The training objective and the quick validation metrics computed every epoch.

Logits are (B, out): out = 1 (one sigmoid logit) for two-class data, else one per class (softmax).
The full evaluation (rejections, per-class AUCs, multiplicity bins) is `saltjet.evaluation.evaluate`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss of logits (B, out) for labels y (B,): BCE-with-logits when out == 1, else cross-entropy."""
    logits = logits.float()
    if logits.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], y.to(logits.dtype))
    return F.cross_entropy(logits, y)


def predictions(logits: torch.Tensor) -> torch.Tensor:
    """(B, out) logits -> (B,) predicted class."""
    return (logits[:, 0] > 0).long() if logits.shape[-1] == 1 else logits.argmax(dim=-1)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """(N, out) logits -> (N,) P(class 1) for one logit, else (N, C) softmax probabilities."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def macro_auc(probs: np.ndarray, y: np.ndarray) -> float | None:
    """ROC AUC (binary, or macro one-vs-rest); None when undefined (a class missing)."""
    import warnings

    from saltjet.extras import require

    roc_auc_score = require("sklearn.metrics", extra="train", purpose="the validation AUC").roc_auc_score

    if len(np.unique(y)) < (2 if probs.ndim == 1 else probs.shape[1]):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if probs.ndim == 1:
                auc = roc_auc_score(y, probs)
            else:
                auc = roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=np.arange(probs.shape[1]))
    except ValueError:
        return None
    return float(auc) if np.isfinite(auc) else None
