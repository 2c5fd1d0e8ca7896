"""A study's figures. ROC and multiplicity figures call `saltjet.evaluation.plots`; the attention maps, the
partition picture and the scaling curves are drawn here (mplhep CMS style, PNG + PDF, through
`saltjet.evaluation.plots.save_figure`).
"""

from __future__ import annotations

import json
from pathlib import Path

from saltjet.evaluation import plots  # first: a one-line error naming the [plot] extra when matplotlib is missing

import matplotlib  # noqa: E402,I001
import matplotlib.lines  # noqa: E402
import matplotlib.patches  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from saltjet.data.particles import ParticleData  # noqa: E402
from saltjet.data.pipeline import prepare  # noqa: E402
from saltjet.evaluation.evaluate import load_predictions  # noqa: E402
from saltjet.study.curves import learning_curve_figures  # noqa: E402
from saltjet.study.attention_maps import attention_maps, partition_index  # noqa: E402
from saltjet.study.evaluation import mean_bins  # noqa: E402
from saltjet.study.layout import ATTENTION_JET_FILE, PREDICTIONS_FILE  # noqa: E402
from saltjet.study.report import rows_of  # noqa: E402
from saltjet.training.run import load_run  # noqa: E402


def _style():
    return matplotlib.style.context(mplhep.style.CMS)


def _predictions(out: Path, rel_dir: str, file: str):
    path = out / rel_dir / file
    return load_predictions(path) if path.is_file() else None


def roc_figures(results: dict, out: Path) -> list[Path]:
    """Per task and class: rejection vs efficiency of every run (every seed whose predictions exist:
    mean ± std band) and the floor, each legend entry with its AUC and 1/εB."""
    paths = []
    data = results.get("data")
    for task, info in results.get("tasks", {}).items():
        runs: dict[str, list] = {}
        for r in results["runs"]:
            if r["task"] == task:
                pred = _predictions(out, r["run_dir"], PREDICTIONS_FILE)
                if pred is not None:
                    runs.setdefault(plots.model_label(r.get("label") or r["model"]), []).append(pred)
        floor = sorted((out / "floor" / task).glob("seed*.predictions.npz"))
        if floor:
            runs["physics floor (BDT)"] = [load_predictions(f) for f in floor]
        if not runs:
            continue
        names = info["class_names"]
        for c in ([names[1]] if len(names) == 2 else names):
            paths += plots.plot_roc_comparison(runs, c, out / "figures" / f"roc_{task}_{c}", data=data)
    return paths


def _seed_mean_bins(rows: list[dict]) -> list[dict]:
    """Multiplicity bins of several seeds: accuracy averaged, n the jets of one seed (the test set is
    the same for every seed), the overflow flag kept."""
    bins = mean_bins(rows)
    first = rows[0].get("multiplicity_bins") or []
    for b, f in zip(bins, first):
        b["n"] = int(f["n"])
        if f.get("overflow"):
            b["overflow"] = True
    return bins


def multiplicity_figures(results: dict, out: Path) -> list[Path]:
    """Per task: accuracy vs constituent multiplicity, mean over seeds, every run and the floor, with
    binomial error bars and the jets per bin."""
    paths = []
    for task in results.get("tasks", {}):
        rows_by_label = {plots.model_label(label): rows for _, label, rows in rows_of(results, task)}
        reports = {k: {"multiplicity_bins": _seed_mean_bins(rows)} for k, rows in rows_by_label.items()}
        reports = {k: v for k, v in reports.items() if v["multiplicity_bins"]}
        seeds = max((len(rows_by_label[k]) for k in reports), default=1)
        if reports:
            paths += plots.plot_accuracy_vs_multiplicity(
                reports, out / "figures" / f"multiplicity_{task}", data=results.get("data"),
                note=f"accuracy: mean of {seeds} seeds" if seeds > 1 else None)
    return paths


def scaling_figure(records: list[dict], stem: Path) -> list[Path]:
    """FLOPs per jet and latency per batch against n, log-log, one line per model."""
    if not records:
        return []
    with _style():
        fig = Figure(figsize=(14, 6.5), layout="constrained")
        ax_f, ax_t = fig.subplots(1, 2)
        for model in dict.fromkeys(r["model"] for r in records):
            rs = sorted((r for r in records if r["model"] == model), key=lambda r: r["n_particles"])
            n = [r["n_particles"] for r in rs]
            ax_f.plot(n, [r["flops"] for r in rs], marker="o", label=plots.model_label(model))
            ax_t.plot(n, [r["latency_ms"] for r in rs], marker="o", label=plots.model_label(model))
        batch = records[0].get("batch_size")
        for ax, label in ((ax_f, "FLOPs per jet"), (ax_t, f"Latency per batch of {batch} jets [ms]")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("Particles per jet $n$")
            ax.set_ylabel(label)
            ax.legend(fontsize="small", frameon=False)
        return plots.save_figure(fig, stem)


PADDING_COLOUR = "0.85"


def _heatmaps(fig_rows: list[tuple[str, np.ndarray]], title: str, stem: Path, xlabel: str, colour_label: str,
              data=None, note: str | None = None) -> list[Path]:
    """Rows of per-head maps (H, m_real, cols) on one colour scale with one colour bar. Non-finite
    entries (SAL-T's -inf logits of a partition holding only padding) are masked and drawn hatched
    grey, named "padding" in the legend."""
    heads = fig_rows[0][1].shape[0]
    finite = np.concatenate([m[np.isfinite(m)] for _, m in fig_rows])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=PADDING_COLOUR)
    padded = False
    with _style():
        fig = Figure(figsize=(3.6 * heads + 1.5, 4.0 * len(fig_rows) + 1.6), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(fig_rows), heads, squeeze=False, sharex=True, sharey=True))
        for i, (row_title, maps) in enumerate(fig_rows):
            for hd in range(heads):
                m = np.ma.masked_invalid(maps[hd])
                ax = axes[i, hd]
                im = ax.imshow(m, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
                for col in np.flatnonzero(m.mask.all(axis=0)) if m.mask.ndim else []:
                    ax.add_patch(matplotlib.patches.Rectangle((col - 0.5, -0.5), 1, m.shape[0], fill=False,
                                                              hatch="//", edgecolor="0.55", linewidth=0))
                    padded = True
                ax.set_title(f"{row_title}, head {hd + 1}", fontsize="x-small")
                if i == len(fig_rows) - 1:
                    ax.set_xlabel(xlabel, fontsize="x-small")
                if hd == 0:
                    ax.set_ylabel("particle ($k_\\mathrm{T}$ order)", fontsize="x-small")
                ax.tick_params(labelsize="xx-small")
                if m.shape[1] <= 16:
                    ax.set_xticks(np.arange(m.shape[1]), [str(c + 1) for c in range(m.shape[1])])
                    ax.minorticks_off()
        fig.colorbar(im, ax=axes, label=colour_label, shrink=0.9)
        if padded:
            fig.legend(handles=[matplotlib.patches.Patch(facecolor=PADDING_COLOUR, edgecolor="0.55", hatch="//",
                                                         label="padding (partition without particles), masked")],
                       loc="outside lower center", fontsize="x-small", frameon=False)
        label = plots.figure_label(data)
        fig.suptitle("\n".join(t for t in (title, note, label) if t), fontsize="small")
        return plots.save_figure(fig, stem)


def attention_figures(run_dirs: dict[str, Path], x: np.ndarray, mask: np.ndarray, feature_names: list[str],
                      stem_dir: Path, data=None, jet_class: str | None = None) -> list[Path]:
    """Attention maps of one jet (x (m, F) physical with columns `feature_names`, mask (m,)) per run.

    Only the jet's real particles are drawn (rows, and keys of the Transformer); SAL-T partitions
    holding only padding are masked. One colour scale per figure.
    """
    paths = []
    for label, run_dir in run_dirs.items():
        model, info = load_run(run_dir)
        name = plots.model_label(label)
        jet = ParticleData(x[None], mask[None], np.zeros(1), ["jet"], list(feature_names))
        prepared, _ = prepare(jet, model.config.n_particles, info.sort_by, info.feature_names)
        xt, mt = torch.from_numpy(prepared.x), torch.from_numpy(prepared.mask)
        maps = attention_maps(model, xt, mt)
        m = int(mt.sum())
        what = f"one {plots.class_label(jet_class)} jet" if jet_class else "one jet"
        note = f"{what}, {m} particles in {prepared.x.shape[1]} slots, first attention block; padded particle slots not drawn"
        stem = stem_dir / f"attention_{Path(str(label)).name.replace(' ', '_')}"
        if "logits_before_conv" in maps:
            rows = [("before conv", maps["logits_before_conv"][0, :, :m]),
                    ("after conv", maps["logits_after_conv"][0, :, :m])]
            paths += _heatmaps(rows, f"{name}: partitioned-attention logits, before and after the convolution",
                               stem, "partition", "attention logit", data, note)
        elif maps["weights"].shape[-1] == prepared.x.shape[1]:
            paths += _heatmaps([("weights", maps["weights"][0, :, :m, :m])], f"{name}: attention weights", stem,
                               "key particle ($k_\\mathrm{T}$ order)", "attention weight", data, note)
        else:
            paths += _heatmaps([("weights", maps["weights"][0, :, :m])],
                               f"{name}: attention weights over the projected keys", stem, "projected key",
                               "attention weight", data, note)
    return paths


def partition_figure(pt, eta_rel, phi_rel, mask, n_slots: int, partitions: int, stem: Path, data=None) -> list[Path]:
    """One jet's particles in the (Δη, Δφ) plane coloured by partition, kT sorting vs pT sorting."""
    with _style():
        fig = Figure(figsize=(15, 8), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        size = 20 + 400 * pt[mask] / max(pt[mask].max(), 1e-9)
        cmap = matplotlib.colormaps["tab10"]
        used = set()
        for ax, by in zip(axes, ("kt", "pt")):
            part = partition_index(pt, eta_rel, phi_rel, mask, by, n_slots, partitions)[mask]
            for c in np.unique(part):
                sel = part == c
                used.add(int(c))
                ax.scatter(eta_rel[mask][sel], phi_rel[mask][sel], s=size[sel], color=cmap(int(c) % 10),
                           alpha=0.75, edgecolor="k", linewidth=0.3)
            ax.set_title("sorted by " + (r"$k_\mathrm{T}$" if by == "kt" else r"$p_\mathrm{T}$"), fontsize="small")
            ax.set_xlabel(r"$\Delta\eta$")
        axes[0].set_ylabel(r"$\Delta\phi$")  # shared axis: the right panel's label would sit on the left panel
        axes[1].tick_params(labelleft=False)
        handles = [matplotlib.lines.Line2D([], [], marker="o", linestyle="", markersize=10, color=cmap(c % 10),
                                           markeredgecolor="k", markeredgewidth=0.3, label=f"partition {c + 1}")
                   for c in sorted(used)]
        empty = [str(c + 1) for c in range(partitions) if c not in used]
        if empty:
            handles.append(matplotlib.patches.Patch(facecolor="none", edgecolor="none",
                                                    label=f"partition {', '.join(empty)}: padding only"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize="x-small", frameon=False)
        lines = [f"{int(mask.sum())} particles, n = {n_slots} slots, p = {partitions} partitions "
                 r"(marker area $\propto p_\mathrm{T}$)"]
        label = plots.figure_label(data)
        fig.suptitle("\n".join(lines + ([label] if label else [])), fontsize="small")
        return plots.save_figure(fig, stem)


def _attention_jet(out: Path):
    path = out / ATTENTION_JET_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def make_figures(spec, results: dict, out: Path) -> list[Path]:
    """Every figure the study file asks for; returns the written paths."""
    paths: list[Path] = []
    figures = spec.figures
    if "roc" in figures:
        paths += roc_figures(results, out)
    if "multiplicity" in figures:
        paths += multiplicity_figures(results, out)
    if "curves" in figures:
        paths += learning_curve_figures(results, out)
    if "scaling" in figures:
        paths += scaling_figure(results.get("bench", []), out / "figures" / "scaling")
    if "trigger" in figures:
        from saltjet.study.trigger import trigger_figures

        paths += trigger_figures(results.get("trigger", []), out)
    jet = _attention_jet(out) if ("attention" in figures or "partitions" in figures) else None
    if jet is not None:
        task = next(iter(results.get("tasks", {})), None)
        run_dirs = {r["label"]: out / r["run_dir"] for r in results["runs"] if r["task"] == task and r["seed"] == 0
                    and (out / r["run_dir"] / "config.yaml").is_file()}  # `plot study`: run folders may be absent
        if "attention" in figures:
            jet_class = str(jet["label"]) if "label" in jet else None
            paths += attention_figures(run_dirs, jet["x"], jet["mask"], [str(f) for f in jet["feature_names"]],
                                       out / "figures", data=results.get("data"), jet_class=jet_class)
        if "partitions" in figures:
            salt = next((r for r in results["runs"] if r["model"] == "salt" and r["task"] == task), None)
            p = int((salt or {}).get("model_options", {}).get("partitions", 4))
            n_slots = int(results["settings"]["data"].get("n_particles", 150))
            paths += partition_figure(jet["x"][:, 0], jet["x"][:, 1], jet["x"][:, 2], jet["mask"], n_slots, p,
                                      out / "figures" / "partitions", data=results.get("data"))
    return paths


def redraw_study_figures(out: Path) -> tuple[list[Path], list[str]]:
    """Draw again every figure of a finished study folder whose inputs are there: results.json (the
    multiplicity and scaling figures), attention_jet.npz (partitions), the runs' predictions (ROC) and
    model folders (attention maps). results.json is not changed.

    Returns:
        (written paths, one line per figure kind that could not be drawn and why).
    """
    import types

    from saltjet.errors import DataError
    from saltjet.study.layout import RESULTS_FILE

    out = Path(out)
    if not (out / RESULTS_FILE).is_file():
        raise DataError(f"{out}: no {RESULTS_FILE} (a folder written by saltjet study)")
    results = json.loads((out / RESULTS_FILE).read_text())
    kinds = list(results.get("settings", {}).get("figures", []))
    skipped = []
    runs = results.get("runs", [])
    if "roc" in kinds and not any((out / r["run_dir"] / PREDICTIONS_FILE).is_file() for r in runs):
        skipped.append(f"roc: no run's {PREDICTIONS_FILE} in this folder (the runs/ folders are not here); not drawn")
    if ("attention" in kinds or "partitions" in kinds) and not (out / ATTENTION_JET_FILE).is_file():
        skipped.append(f"attention, partitions: no {ATTENTION_JET_FILE}; not drawn")
    elif "attention" in kinds and not any((out / r["run_dir"] / "config.yaml").is_file() for r in runs):
        skipped.append("attention: the run folders (models) are not in this folder; not drawn")
    paths = make_figures(types.SimpleNamespace(figures=kinds), results, out)
    return paths, skipped


def save_attention_jet(out: Path, test, class_name: str = "t") -> None:
    """Keep one test jet of `class_name` (the first with ≥ 30 particles, else the first) for the maps."""
    names = list(test.class_names)
    idx = np.flatnonzero(test.y == names.index(class_name)) if class_name in names else np.arange(len(test))
    if len(idx) == 0:
        idx = np.arange(len(test))
    big = idx[test.multiplicity[idx] >= 30]
    i = int(big[0] if len(big) else idx[0])
    np.savez(out / ATTENTION_JET_FILE, x=test.x[i], mask=test.mask[i], feature_names=np.asarray(test.feature_names),
             label=np.asarray(names[test.y[i]]))
    (out / "attention_jet.json").write_text(json.dumps({"index_in_test": i, "class": names[test.y[i]],
                                                        "multiplicity": int(test.multiplicity[i])}) + "\n")
