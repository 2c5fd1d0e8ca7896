"""Figures a paper can use: sample labels, AUC and 1/εB in every ROC legend entry, seed bands, binomial
errors and jet counts per multiplicity bin, masked padding on one colour scale, readable labels."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("mplhep")

from saltjet.evaluation import plots  # noqa: E402
from saltjet.evaluation.metrics import evaluate_predictions  # noqa: E402

GENERATED = {"kind": "jets", "generated": True, "source": "built-in Pythia 8.3 + FastJet jets (...)"}


@pytest.fixture
def captured(monkeypatch):
    """The figures the plot functions build, kept instead of written (one list per test)."""
    figs = []

    def keep(fig, stem):
        figs.append(fig)
        return []

    monkeypatch.setattr(plots, "save_figure", keep)
    return figs


def _pred(names, strength, seed, n=600):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(names), n)
    logits = rng.normal(size=(n, len(names)))
    logits[np.arange(n), y] += strength
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {"probs": p, "labels": y, "class_names": list(names), "multiplicity": rng.integers(5, 180, n)}


def _texts(fig):
    out = [t.get_text() for t in fig.texts] + [fig.get_suptitle()]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts] + [ax.get_title(loc) for loc in ("left", "center", "right")]
        out += [t.get_text() for t in ax.get_xticklabels()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()] + [ax.get_legend().get_title().get_text()]
    return out


def test_labels():
    assert plots.sample_label(GENERATED) == plots.GENERATED_JETS_LABEL
    assert "√s = 13 TeV" in plots.GENERATED_JETS_LABEL and "800 <" in plots.GENERATED_JETS_LABEL
    assert plots.sample_label({"kind": "jets", "generated": False, "source": "/my/jets.h5"}) == "/my/jets.h5"
    assert plots.sample_label("data/jets_2000pc_seed0/jetImage_0.h5") == plots.GENERATED_JETS_LABEL
    for path in ("data/jets_200000pc_seed1_t/a.h5", "/d/jets_*0000pc_seed*/*.h5"):  # hand-named, globbed
        assert plots.sample_label(path) == plots.GENERATED_JETS_LABEL
    assert plots.sample_label("data/my_jets_seed1/a.h5") == "data/my_jets_seed1/a.h5"
    shapes = {"kind": "pointcloud", "generated": True, "source": "procedural shapes"}
    assert plots.sample_label(shapes) is None and plots.dataset_line(shapes).startswith("Point clouds:")
    assert plots.dataset_line(GENERATED) is None
    assert plots.class_label("night_stand") == "night stand"
    assert plots.model_label("salt") == "SAL-T" and plots.model_label("transformer") == "Transformer"
    assert plots.versus_text(["QCD", "t"], "t") == "t vs QCD"
    assert plots.versus_text(list("gqWZt"), "t") == "t vs rest (g, q, W, Z)"


def test_roc_legend_has_auc_rejection_and_seed_band(captured):
    runs = {"salt": [_pred(["QCD", "t"], 2.0, s) for s in range(3)], "physics floor (BDT)": _pred(["QCD", "t"], 1.0, 9)}
    plots.plot_roc_comparison(runs, "t", "unused", data=GENERATED)
    (fig,) = captured
    ax = fig.axes[0]
    entries = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(entries) == 2 and all("AUC" in e and "varepsilon_B" in e for e in entries)
    assert entries[0].startswith("SAL-T (mean ± std of 3 seeds)") and "±" in entries[0].split("AUC")[1]
    assert ax.get_title(loc="left") == "t vs QCD"
    assert any(plots.GENERATED_JETS_LABEL.split(",")[0] in t for t in _texts(fig))
    assert len(ax.collections) == 1  # one band: the run with three seeds


def test_roc_of_one_run_per_class(captured):
    plots.plot_roc_curves(_pred(["bed", "night_stand", "sofa"], 1.5, 0), "unused", label="salt",
                          data={"kind": "pointcloud", "generated": True, "source": "shapes"})
    entries = [t.get_text() for t in captured[0].axes[0].get_legend().get_texts()]
    assert len(entries) == 3 and all("AUC" in e for e in entries) and entries[1].startswith("night stand")
    texts = _texts(captured[0])
    assert any(t.startswith("Point clouds:") for t in texts) and not any("Pythia" in t for t in texts)


def test_wilson_interval():
    lo, hi = plots.wilson_interval(np.array([7, 500]), np.array([8, 1000]))
    assert (lo < [7 / 8, 0.5]).all() and (hi > [7 / 8, 0.5]).all() and hi[0] <= 1
    assert hi[0] - lo[0] > hi[1] - lo[1]  # 8 jets: a wide bar


def test_multiplicity_has_error_bars_counts_and_overflow(captured):
    p = _pred(list("gqWZt"), 1.0, 3)
    report = evaluate_predictions(p["probs"], p["labels"], p["class_names"], p["multiplicity"])
    assert report["multiplicity_bins"][-1].get("overflow")
    plots.plot_accuracy_vs_multiplicity({"salt": report}, "unused", data=GENERATED)
    (fig,) = captured
    ax, ax_n = fig.axes
    texts = _texts(fig)
    assert "> 150" in texts and "SAL-T" in texts
    counts = [b["n"] for b in report["multiplicity_bins"]]
    assert [int(t.get_text()) for t in ax_n.texts] == counts
    assert any(len(c.get_segments()) == len(counts) for c in ax.collections)  # one vertical error bar per bin


def test_attention_padding_is_masked_on_one_colour_scale(captured):
    from saltjet.study import figures

    logits = np.random.default_rng(0).normal(size=(2, 10, 4))
    logits[:, :, 3] = -np.inf  # a partition holding only padding
    figures._heatmaps([("before conv", logits), ("after conv", logits * 3)], "SAL-T", "unused", "partition",
                      "attention logit", data=GENERATED)
    (fig,) = captured
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 4
    assert all(im.get_array().mask[:, 3].all() and not im.get_array().mask[:, :3].any() for im in images)
    assert len({im.get_clim() for im in images}) == 1
    assert len(fig.axes) == 5  # four panels and one colour bar
    assert any("padding" in t.get_text() for legend in fig.legends for t in legend.get_texts())


def test_scaling_legend_uses_model_labels(captured):
    from saltjet.study import figures

    records = [{"model": m, "n_particles": n, "flops": n * k, "latency_ms": 0.1 * n, "batch_size": 256}
               for m, k in (("salt", 1), ("linformer", 2), ("transformer", 3)) for n in (16, 32)]
    figures.scaling_figure(records, "unused")
    for ax in captured[0].axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SAL-T", "Linformer", "Transformer"]


def test_figures_are_written(tmp_path):
    paths = plots.plot_roc_comparison({"salt": _pred(["QCD", "t"], 2.0, 0)}, "t", tmp_path / "roc", data=GENERATED)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
