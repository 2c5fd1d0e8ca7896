"""The physics floor: gradient-boosted trees on standard jet observables.

A tagger that reads every constituent should beat a boosted-decision-tree on a handful of
textbook jet observables (mass, multiplicity, girth, pT_D, leading-particle fraction, width, e2;
see `saltjet.evaluation.observables`). Every jet table of a study shows this floor, trained on the same
training jets and scored by the same `saltjet.evaluation.metrics.evaluate_predictions`.

Model: scikit-learn's `HistGradientBoostingClassifier` (log-loss, internal early stopping on a 10%
validation part of the training jets), seeded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from saltjet.data.particles import ParticleData
from saltjet.errors import DataError
from saltjet.evaluation.metrics import evaluate_predictions
from saltjet.evaluation.observables import OBSERVABLES, observables_matrix


@dataclass
class FloorConfig:
    """Options of the floor's boosted trees (scikit-learn names)."""

    observables: list[str] = field(default_factory=lambda: list(OBSERVABLES))
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    early_stopping: bool = True
    seed: int = 0


def fit_floor(train: ParticleData, config: FloorConfig | None = None):
    """Fit the trees on the observables of `train` (x (N, n, F) jets). Returns the classifier."""
    from saltjet.extras import require

    HistGradientBoostingClassifier = require("sklearn.ensemble", extra="train",  # noqa: N806
                                             purpose="the physics floor").HistGradientBoostingClassifier

    config = config or FloorConfig()
    if len(np.unique(train.y)) < 2:
        raise DataError("the physics floor needs training jets of at least two classes")
    model = HistGradientBoostingClassifier(
        max_iter=config.max_iter, learning_rate=config.learning_rate, max_leaf_nodes=config.max_leaf_nodes,
        early_stopping=config.early_stopping, random_state=config.seed,
    )
    model.fit(observables_matrix(train, config.observables), train.y)
    model.observables_ = list(config.observables)
    return model


def predict_floor(model, data: ParticleData) -> np.ndarray:
    """Class probabilities of `data`: (N, C) over all of data.class_names ((N,) P(class 1) for 2 classes).

    Classes the trees never saw get probability 0.
    """
    raw = model.predict_proba(observables_matrix(data, model.observables_))
    probs = np.zeros((len(data), len(data.class_names)))
    probs[:, model.classes_] = raw
    return probs[:, 1] if len(data.class_names) == 2 else probs


def evaluate_floor(train: ParticleData, test: ParticleData, config: FloorConfig | None = None) -> tuple[dict, dict]:
    """Fit on `train`, evaluate on `test`.

    Returns:
        report: `evaluate_predictions` dict plus {model: "floor", observables, n_trees, train_s}.
        predictions: {probs, labels, class_names, multiplicity} (the layout `saltjet.evaluation.plots` reads).
    """
    if list(train.class_names) != list(test.class_names):
        raise DataError(f"train classes {train.class_names} differ from test classes {test.class_names}")
    t0 = time.perf_counter()
    model = fit_floor(train, config)
    train_s = time.perf_counter() - t0
    probs = predict_floor(model, test)
    report = evaluate_predictions(probs, test.y, test.class_names, multiplicity=test.multiplicity)
    report.update(model="floor", observables=list(model.observables_), n_trees=int(model.n_iter_), train_s=train_s)
    predictions = {"probs": probs, "labels": test.y, "class_names": list(test.class_names),
                   "multiplicity": test.multiplicity}
    return report, predictions
