"""A study's figures. ROC and multiplicity figures call `saltjet.evaluation.plots`; the attention maps, the
partition picture and the scaling curves are drawn here (mplhep CMS style, PNG + PDF, through
`saltjet.evaluation.plots.save_figure`).
"""

from __future__ import annotations

import json
from pathlib import Path

from saltjet.evaluation import plots  # first: a one-line error naming the [plot] extra when matplotlib is missing

import matplotlib  # noqa: E402,I001
import mplhep  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from saltjet.data.particles import ParticleData  # noqa: E402
from saltjet.data.pipeline import prepare  # noqa: E402
from saltjet.evaluation.evaluate import load_predictions  # noqa: E402
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
    """Per task and class: rejection vs efficiency of every run (first seed) and the floor."""
    paths = []
    for task, info in results.get("tasks", {}).items():
        runs = {}
        for r in results["runs"]:
            if r["task"] == task and r["seed"] == 0:
                pred = _predictions(out, r["run_dir"], PREDICTIONS_FILE)
                if pred is not None:
                    runs[r["label"]] = pred
        floor = out / "floor" / task / "seed0.predictions.npz"
        if floor.is_file():
            runs["physics floor (BDT)"] = load_predictions(floor)
        if not runs:
            continue
        names = info["class_names"]
        for c in ([names[1]] if len(names) == 2 else names):
            paths += plots.plot_roc_comparison(runs, c, out / "figures" / f"roc_{task}_{c}")
    return paths


def multiplicity_figures(results: dict, out: Path) -> list[Path]:
    """Per task: accuracy vs constituent multiplicity, mean over seeds, every run and the floor."""
    paths = []
    for task in results.get("tasks", {}):
        reports = {label: {"multiplicity_bins": mean_bins(rows)} for _, label, rows in rows_of(results, task)}
        reports = {k: v for k, v in reports.items() if v["multiplicity_bins"]}
        if reports:
            paths += plots.plot_accuracy_vs_multiplicity(reports, out / "figures" / f"multiplicity_{task}")
    return paths


def scaling_figure(records: list[dict], stem: Path) -> list[Path]:
    """FLOPs per jet and latency per batch against n, log-log, one line per model."""
    if not records:
        return []
    with _style():
        fig = Figure(figsize=(14, 6), layout="constrained")
        ax_f, ax_t = fig.subplots(1, 2)
        for model in dict.fromkeys(r["model"] for r in records):
            rs = sorted((r for r in records if r["model"] == model), key=lambda r: r["n_particles"])
            n = [r["n_particles"] for r in rs]
            ax_f.plot(n, [r["flops"] for r in rs], marker="o", label=model)
            ax_t.plot(n, [r["latency_ms"] for r in rs], marker="o", label=model)
        for ax, label in ((ax_f, "FLOPs per jet"), (ax_t, f"latency per batch of {records[0].get('batch_size')} [ms]")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("particles n")
            ax.set_ylabel(label)
            ax.legend(fontsize="small")
        return plots.save_figure(fig, stem)


def _heatmaps(fig_rows: list[tuple[str, np.ndarray]], title: str, stem: Path, xlabel: str) -> list[Path]:
    """Rows of per-head maps (H, m_real, cols); -inf entries (excluded partitions) shown blank."""
    heads = fig_rows[0][1].shape[0]
    with _style():
        fig = Figure(figsize=(3.2 * heads + 1, 4.2 * len(fig_rows)), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(fig_rows), heads, squeeze=False))
        for i, (row_title, maps) in enumerate(fig_rows):
            for hd in range(heads):
                m = np.where(np.isfinite(maps[hd]), maps[hd], np.nan)
                ax = axes[i, hd]
                im = ax.imshow(m, aspect="auto", cmap="viridis", interpolation="nearest")
                fig.colorbar(im, ax=ax)
                ax.set_title(f"{row_title}, head {hd + 1}", fontsize="x-small")
                ax.set_xlabel(xlabel, fontsize="x-small")
                ax.set_ylabel("particle (sorted)", fontsize="x-small")
                ax.tick_params(labelsize="xx-small")
        fig.suptitle(title, fontsize="small")
        return plots.save_figure(fig, stem)


def attention_figures(run_dirs: dict[str, Path], x: np.ndarray, mask: np.ndarray, feature_names: list[str],
                      stem_dir: Path) -> list[Path]:
    """Attention maps of one jet (x (m, F) physical with columns `feature_names`, mask (m,)) per run."""
    paths = []
    for label, run_dir in run_dirs.items():
        model, info = load_run(run_dir)
        jet = ParticleData(x[None], mask[None], np.zeros(1), ["jet"], list(feature_names))
        prepared, _ = prepare(jet, model.config.n_particles, info.sort_by, info.feature_names)
        xt, mt = torch.from_numpy(prepared.x), torch.from_numpy(prepared.mask)
        maps = attention_maps(model, xt, mt)
        m = int(mt.sum())
        stem = stem_dir / f"attention_{Path(str(label)).name.replace(' ', '_')}"
        if "logits_before_conv" in maps:
            rows = [("logits before conv", maps["logits_before_conv"][0, :, :m]),
                    ("logits after conv", maps["logits_after_conv"][0, :, :m])]
            paths += _heatmaps(rows, f"{label}: partitioned-attention logits", stem, "partition")
        elif maps["weights"].shape[-1] == prepared.x.shape[1]:
            paths += _heatmaps([("weights", maps["weights"][0, :, :m, :m])], f"{label}: attention weights", stem, "key particle")
        else:
            paths += _heatmaps([("weights", maps["weights"][0, :, :m])], f"{label}: Linformer attention weights", stem,
                               "projected key")
    return paths


def partition_figure(pt, eta_rel, phi_rel, mask, n_slots: int, partitions: int, stem: Path) -> list[Path]:
    """One jet's particles in the (Δη, Δφ) plane coloured by partition, kT sorting vs pT sorting."""
    with _style():
        fig = Figure(figsize=(14, 6.5), layout="constrained")
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        size = 20 + 400 * pt[mask] / max(pt[mask].max(), 1e-9)
        cmap = matplotlib.colormaps["tab10"]
        for ax, by in zip(axes, ("kt", "pt")):
            part = partition_index(pt, eta_rel, phi_rel, mask, by, n_slots, partitions)[mask]
            for c in np.unique(part):
                sel = part == c
                ax.scatter(eta_rel[mask][sel], phi_rel[mask][sel], s=size[sel], color=cmap(int(c) % 10),
                           alpha=0.75, edgecolor="k", linewidth=0.3, label=f"partition {c + 1}")
            ax.set_title(f"sorted by {'$k_T$' if by == 'kt' else '$p_T$'}", fontsize="small")
            ax.set_xlabel(r"$\Delta\eta$")
            ax.set_ylabel(r"$\Delta\phi$")
            ax.legend(fontsize="x-small", loc="upper right")
        fig.suptitle(f"{int(mask.sum())} particles, n = {n_slots} slots, p = {partitions} "
                     r"(marker area $\propto p_T$)", fontsize="small")
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
    if "scaling" in figures:
        paths += scaling_figure(results.get("bench", []), out / "figures" / "scaling")
    jet = _attention_jet(out) if ("attention" in figures or "partitions" in figures) else None
    if jet is not None:
        task = next(iter(results.get("tasks", {})), None)
        run_dirs = {r["label"]: out / r["run_dir"] for r in results["runs"] if r["task"] == task and r["seed"] == 0}
        if "attention" in figures:
            paths += attention_figures(run_dirs, jet["x"], jet["mask"], [str(f) for f in jet["feature_names"]],
                                       out / "figures")
        if "partitions" in figures:
            salt = next((r for r in results["runs"] if r["model"] == "salt" and r["task"] == task), None)
            p = int((salt or {}).get("model_options", {}).get("partitions", 4))
            n_slots = int(results["settings"]["data"].get("n_particles", 150))
            paths += partition_figure(jet["x"][:, 0], jet["x"][:, 1], jet["x"][:, 2], jet["mask"], n_slots, p,
                                      out / "figures" / "partitions")
    return paths


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
