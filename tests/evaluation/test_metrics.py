"""Metrics checked against values counted by hand on small fixed prediction sets."""

import json
import math

import numpy as np
import pytest

from saltjet.errors import InputError
from saltjet.evaluation.metrics import (
    accuracy,
    accuracy_in_bins,
    confusion_matrix,
    evaluate_predictions,
    fpr_at_tpr,
    per_class_auc,
    per_class_rejection,
    rejection_at_tpr,
)

# ---------------------------------------------------------------------------------------------
# Binary set: 5 signal (label 1), 4 background (label 0); the score is P(signal).
#   signal scores:     0.9 0.8 0.5 0.5 0.3
#   background scores: 0.7 0.5 0.2 0.1
# Cutting at each distinct score, from high to low (TPR = sig kept / 5, FPR = bkg kept / 4):
#   > 0.9 : (FPR 0   , TPR 0  )
#   0.9 S : (0       , 0.2    )
#   0.8 S : (0       , 0.4    )
#   0.7 B : (0.25    , 0.4    )
#   0.5 SSB: (0.5    , 0.8    )   <- a diagonal stretch from (0.25, 0.4): the tie at 0.5
#   0.3 S : (0.5     , 1.0    )
#   0.2 B : (0.75    , 1.0    )
#   0.1 B : (1       , 1.0    )
# AUC = P(s > b) + 0.5 P(s = b) over 5*4 = 20 pairs:
#   0.9 beats 4; 0.8 beats 4; each 0.5 beats 0.2, 0.1 and ties 0.5 -> 2.5, twice -> 5; 0.3 beats 2
#   (4 + 4 + 5 + 2) / 20 = 0.75   (trapezoids: 0.25*0.4 + 0.25*(0.4+0.8)/2 + 0.5*1 = 0.75)
# FPR at TPR 0.8: exactly the point (0.5, 0.8) -> rejection 2.
# FPR at TPR 0.6: on the diagonal, 0.25 + (0.6-0.4) * (0.5-0.25)/(0.8-0.4) = 0.375 -> 1/0.375 = 8/3.
# FPR at TPR 0.5 (eff 0.5): 0.25 + 0.1 * 0.625 = 0.3125 -> rejection 3.2.
# FPR at TPR 0.3 (eff 0.3): between (0, 0.2) and (0, 0.4) -> FPR 0 -> rejection inf (JSON null).
# Accuracy (class 1 when p > 0.5; p = 0.5 goes to class 0):
#   signal right: 0.9, 0.8 (2); background right: 0.5, 0.2, 0.1 (3)  -> 5/9.
# One-vs-rest for class 0 (score 1-p): "signal" = the 4 background jets with scores 0.3 0.5 0.8 0.9,
#   "background" = 5 signal jets with 0.1 0.2 0.5 0.5 0.7. Points: 0.9 (0, .25), 0.8 (0, .5),
#   0.7 (.2, .5), 0.5 [1 S, 2 B] (.6, .75), 0.3 (.6, 1.0) -> TPR 0.8 on the vertical at FPR 0.6
#   -> rejection 1/0.6 = 5/3; its AUC is the same 0.75. Mean rejection = (5/3 + 2)/2 = 11/6.
BIN_SCORES = np.array([0.9, 0.8, 0.5, 0.5, 0.3, 0.7, 0.5, 0.2, 0.1])
BIN_LABELS = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0])


def test_binary_auc_and_rejection_by_hand():
    is_sig = BIN_LABELS == 1
    assert fpr_at_tpr(is_sig, BIN_SCORES, 0.8) == pytest.approx(0.5)
    assert fpr_at_tpr(is_sig, BIN_SCORES, 0.6) == pytest.approx(0.375)  # interpolated on the diagonal
    assert rejection_at_tpr(is_sig, BIN_SCORES, 0.6) == pytest.approx(8 / 3)
    assert rejection_at_tpr(is_sig, BIN_SCORES, 0.5) == pytest.approx(3.2)
    assert rejection_at_tpr(is_sig, BIN_SCORES, 0.3) == math.inf
    assert fpr_at_tpr(is_sig, BIN_SCORES, 1.0) == pytest.approx(0.5)  # first point reaching TPR 1
    assert per_class_auc(BIN_SCORES, BIN_LABELS) == pytest.approx([0.75, 0.75])
    assert per_class_rejection(BIN_SCORES, BIN_LABELS) == pytest.approx([5 / 3, 2.0])
    assert accuracy(BIN_SCORES, BIN_LABELS) == pytest.approx(5 / 9)


def test_binary_report_keys_and_values():
    r = evaluate_predictions(BIN_SCORES, BIN_LABELS, ["QCD", "top"])
    assert r["n_jets"] == 9
    assert r["accuracy"] == pytest.approx(5 / 9)
    assert r["auc_macro"] == pytest.approx(0.75)
    assert r["per_class"]["top"] == {"n": 5, "auc": pytest.approx(0.75), "rejection_at_tpr_0.8": pytest.approx(2.0)}
    assert r["per_class"]["QCD"]["rejection_at_tpr_0.8"] == pytest.approx(5 / 3)
    assert r["mean_rejection_at_tpr_0.8"] == pytest.approx(11 / 6)
    assert r["rejection_at_eff_0.5"] == pytest.approx(3.2)
    assert r["rejection_at_eff_0.3"] is None  # no background passes: unmeasurable, not a made-up number
    # confusion: true QCD -> pred QCD 3 (0.5, 0.2, 0.1), pred top 1 (0.7); true top -> QCD 3, top 2
    assert r["confusion_matrix"] == [[3, 1], [3, 2]]
    assert r["multiplicity_bins"] == []
    json.dumps(r, allow_nan=False)  # JSON-ready: no NaN / inf


def test_binary_two_column_probs_give_the_same_report():
    two = np.stack([1 - BIN_SCORES, BIN_SCORES], axis=1)
    assert evaluate_predictions(two, BIN_LABELS, ["QCD", "top"]) == evaluate_predictions(
        BIN_SCORES, BIN_LABELS, ["QCD", "top"]
    )


# ---------------------------------------------------------------------------------------------
# Three classes in the hls4ml order (g, q, W), 6 jets:
#   jet label  p_g   p_q   p_W   argmax
#   j0  g      0.60  0.30  0.10  g  right
#   j1  g      0.30  0.50  0.20  q  wrong
#   j2  q      0.20  0.70  0.10  q  right
#   j3  q      0.45  0.35  0.20  g  wrong
#   j4  W      0.10  0.20  0.70  W  right
#   j5  W      0.30  0.30  0.40  W  right
# accuracy 4/6. Confusion (rows true g,q,W; columns predicted): [[1,1,0],[1,1,0],[0,0,2]].
# AUC g: signal p_g {0.6, 0.3} vs background {0.2, 0.45, 0.1, 0.3}: 0.6 beats 4; 0.3 beats 0.2, 0.1
#   and ties 0.3 -> 2.5; 6.5/8 = 0.8125.
# AUC q: signal {0.7, 0.35} vs {0.3, 0.5, 0.2, 0.3}: 4 + 3 = 7/8 = 0.875.
# AUC W: signal {0.7, 0.4} vs {0.1, 0.2, 0.1, 0.2}: 8/8 = 1.
# macro = (0.8125 + 0.875 + 1) / 3 = 0.8958333...
# Rejection at TPR 0.8 (2 signal jets, so TPR moves in steps of 0.5, FPR in steps of 0.25):
#   g: 0.6 S (0, .5); 0.45 B (.25, .5); 0.3 S+B (.5, 1) -> diagonal: FPR = .25 + .3 * .25/.5 = 0.4
#      -> rejection 2.5
#   q: 0.7 S (0, .5); 0.5 B (.25, .5); 0.35 S (.25, 1) -> vertical at FPR .25 -> rejection 4
#   W: 0.7 S, 0.4 S both before any background -> FPR 0 -> inf (JSON null), so the mean is null.
MC_PROBS = np.array(
    [[0.60, 0.30, 0.10], [0.30, 0.50, 0.20], [0.20, 0.70, 0.10], [0.45, 0.35, 0.20], [0.10, 0.20, 0.70], [0.30, 0.30, 0.40]]
)
MC_LABELS = np.array([0, 0, 1, 1, 2, 2])
MC_NAMES = ["g", "q", "W"]


def test_multiclass_by_hand():
    assert accuracy(MC_PROBS, MC_LABELS) == pytest.approx(4 / 6)
    assert per_class_auc(MC_PROBS, MC_LABELS) == pytest.approx([0.8125, 0.875, 1.0])
    rej = per_class_rejection(MC_PROBS, MC_LABELS)
    assert rej[:2] == pytest.approx([2.5, 4.0]) and rej[2] == math.inf
    assert confusion_matrix(MC_PROBS, MC_LABELS).tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 2]]


def test_multiclass_report_keeps_the_label_order():
    r = evaluate_predictions(MC_PROBS, MC_LABELS, MC_NAMES)
    assert list(r["per_class"]) == ["g", "q", "W"] and r["class_names"] == MC_NAMES
    # g and q differ in AUC and rejection: a g/q swap (the authors' scripts' bug) would show here.
    assert r["per_class"]["g"] == {"n": 2, "auc": pytest.approx(0.8125), "rejection_at_tpr_0.8": pytest.approx(2.5)}
    assert r["per_class"]["q"] == {"n": 2, "auc": pytest.approx(0.875), "rejection_at_tpr_0.8": pytest.approx(4.0)}
    assert r["per_class"]["W"]["rejection_at_tpr_0.8"] is None
    assert r["mean_rejection_at_tpr_0.8"] is None
    assert r["auc_macro"] == pytest.approx(2.6875 / 3)
    assert "rejection_at_eff_0.3" not in r  # binary-only keys
    json.dumps(r, allow_nan=False)


def test_macro_auc_with_finite_mean_rejection():
    # Drop W's perfect separation: move j4 to p_W 0.15 so background j1 (0.20) outranks it.
    #   W signal {0.15, 0.4} vs {0.1, 0.2, 0.1, 0.2}: 0.15 beats 2; 0.4 beats 4 -> 6/8 = 0.75.
    #   ROC W: 0.4 S (0, .5); 0.2 B,B (.5, .5); 0.15 S (.5, 1) -> vertical at .5 -> rejection 2.
    #   mean rejection = (2.5 + 4 + 2)/3 = 8.5/3. j4's argmax becomes q (0.2 > 0.15): wrong -> 3/6.
    probs = MC_PROBS.copy()
    probs[4] = [0.10, 0.20, 0.15]
    r = evaluate_predictions(probs, MC_LABELS, MC_NAMES)
    assert r["per_class"]["W"]["auc"] == pytest.approx(0.75)
    assert r["mean_rejection_at_tpr_0.8"] == pytest.approx(8.5 / 3)
    assert r["accuracy"] == pytest.approx(0.5)


def test_multiplicity_bins_by_hand():
    # multiplicities of j0..j5; bins [0,20) [20,30) [30,100) [100,150] (last bin closed)
    mult = np.array([5, 25, 25, 150, 99, 100])
    bins = accuracy_in_bins(MC_PROBS, MC_LABELS, mult, edges=[0, 20, 30, 100, 150])
    # [0,20): j0 right -> 1/1; [20,30): j1 wrong, j2 right -> 1/2; [30,100): j4 right -> 1/1;
    # [100,150]: j3 (150) wrong, j5 (100) right -> 1/2
    assert bins == [
        {"lo": 0, "hi": 20, "n": 1, "accuracy": 1.0},
        {"lo": 20, "hi": 30, "n": 2, "accuracy": 0.5},
        {"lo": 30, "hi": 100, "n": 1, "accuracy": 1.0},
        {"lo": 100, "hi": 150, "n": 2, "accuracy": 0.5},
    ]
    empty = accuracy_in_bins(MC_PROBS, MC_LABELS, mult, edges=[200, 300])
    assert empty == [{"lo": 200, "hi": 300, "n": 0, "accuracy": None}]
    r = evaluate_predictions(MC_PROBS, MC_LABELS, MC_NAMES, multiplicity=mult)
    # default edges 0,20,...,150: j0 in [0,20), j1 j2 in [20,30), j4 in [80,100), j3 j5 in [100,150]
    by_lo = {b["lo"]: (b["n"], b["accuracy"]) for b in r["multiplicity_bins"]}
    assert by_lo[0] == (1, 1.0) and by_lo[20] == (2, 0.5) and by_lo[80] == (1, 1.0) and by_lo[100] == (2, 0.5)
    assert by_lo[30] == (0, None)
    assert sum(b["n"] for b in r["multiplicity_bins"]) == 6


def test_absent_class_gives_null_auc_and_macro_over_present():
    # only g and q jets: W has no signal -> AUC undefined (null); macro is over g and q
    probs, labels = MC_PROBS[:4], MC_LABELS[:4]
    r = evaluate_predictions(probs, labels, MC_NAMES)
    assert r["per_class"]["W"]["auc"] is None and r["per_class"]["W"]["n"] == 0
    aucs = per_class_auc(probs, labels)
    assert r["auc_macro"] == pytest.approx(np.mean(aucs[:2]))
    json.dumps(r, allow_nan=False)


@pytest.mark.parametrize(
    "probs, labels, names",
    [
        (MC_PROBS[:, :2], MC_LABELS, MC_NAMES),  # 2 columns for 3 classes
        (MC_PROBS, MC_LABELS[:5], MC_NAMES),  # length mismatch
        (MC_PROBS, MC_LABELS + 1, MC_NAMES),  # label 3 out of range
        (np.where(MC_PROBS > 0.6, np.nan, MC_PROBS), MC_LABELS, MC_NAMES),  # NaN
        (np.zeros((0, 3)), np.zeros(0, dtype=int), MC_NAMES),  # empty
    ],
)
def test_bad_input_is_a_one_line_input_error(probs, labels, names):
    with pytest.raises(InputError) as e:
        evaluate_predictions(probs, labels, names)
    assert "\n" not in str(e.value)
