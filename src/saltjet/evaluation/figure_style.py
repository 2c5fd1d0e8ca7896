"""What every saltjet figure shares: the mplhep CMS style, PNG + PDF output, and the text that says
what a figure shows (model and class names as a reader wants them, the sample label of jets, the
data-set line of point clouds) stamped onto it.

Figures are `matplotlib.figure.Figure` objects (Agg canvas), never pyplot. The figure makers live in
`saltjet.evaluation.plots` (which re-exports these names) and `saltjet.study.figures`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from saltjet.extras import require

# a one-line `MissingExtraError` naming the [plot] extra, not a traceback, when they are missing
require("matplotlib", extra="plot", purpose="plotting")
require("mplhep", extra="plot", purpose="plotting")

import matplotlib  # noqa: E402
import mplhep  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FORMATS = ("png", "pdf")

# the names every figure and table uses for the three models
MODEL_LABELS = {"salt": "SAL-T", "linformer": "Linformer", "transformer": "Transformer"}
# the sample of the built-in generated jets (saltjet.data.generate.pythia, saltjet.study.data)
GENERATED_JETS_LABEL = (r"Pythia 8, √s = 13 TeV, anti-$k_\mathrm{T}$ $R$ = 0.8, "
                        r"800 < $p_\mathrm{T}$ < 1300 GeV")
# folders `saltjet generate` writes by default (jets_<N>pc_seed<S>) or by hand in that style
# (jets_200000pc_seed1_t), also as a glob over several of them (jets_*0000pc_seed*)
_GENERATED_JETS_DIR = re.compile(r"(^|[/\\])jets_[\d*?]+pc_seed[^/\\]*([/\\]|$)")
_GENERATED_SHAPES_DIR = re.compile(r"(^|[/\\])shapes_[\d*?]+pc_seed[^/\\]*([/\\]|$)")
SHAPES_LABEL = "procedural 10-class shapes (ModelNet10 layout)"


def style():
    """The mplhep CMS style as a context manager (`with style(): ...`), for every saltjet figure."""
    return matplotlib.style.context(mplhep.style.CMS)


def new_figure(figsize=(8, 7)) -> Figure:
    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig: Figure, stem: str | Path) -> list[Path]:
    """Write `stem`.png and `stem`.pdf (parent folders created). Returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in FORMATS:
        path = stem.with_name(f"{stem.name}.{ext}")
        fig.savefig(path, dpi=150 if ext == "png" else None)
        paths.append(path)
    return paths


def class_label(name) -> str:
    """A class name as a reader wants it: "night_stand" -> "night stand"."""
    return str(name).replace("_", " ")


def model_label(name) -> str:
    """"salt" -> "SAL-T" (and linformer, transformer); any other label unchanged."""
    return MODEL_LABELS.get(str(name), str(name))


def _shorten(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _data_text(data) -> tuple[str, str]:
    """(kind, text) of a data description: a study's results["data"] dict, a path or a list of paths."""
    if isinstance(data, Mapping):
        kind = str(data.get("kind") or "jets")
        if data.get("generated"):
            return kind, GENERATED_JETS_LABEL if kind == "jets" else SHAPES_LABEL
        text = str(data.get("source") or data.get("path") or "")
    else:
        text = ", ".join(map(str, data)) if isinstance(data, (list, tuple)) else str(data)
        kind = "jets"
    if _GENERATED_JETS_DIR.search(text):
        return "jets", GENERATED_JETS_LABEL
    if _GENERATED_SHAPES_DIR.search(text):
        return "pointcloud", SHAPES_LABEL
    return kind, _shorten(text)


def sample_label(data) -> str | None:
    """The sample line of a jet figure, or None (point clouds, no description).

    Args:
        data: a study's data description (results["data"]: kind, generated, source), a data path
            (e.g. the "data" of a `saltjet evaluate` report) or None. The built-in generated jets
            give GENERATED_JETS_LABEL; other jets give their own source text.
    """
    if data is None or data == "":
        return None
    kind, text = _data_text(data)
    return text or None if kind == "jets" else None


def dataset_line(data) -> str | None:
    """The data-set line of a point-cloud figure (e.g. "Point clouds: procedural 10-class shapes
    (ModelNet10 layout)"), None for jets."""
    if data is None or data == "":
        return None
    kind, text = _data_text(data)
    return f"Point clouds: {text}" if kind != "jets" and text else None


def figure_label(data) -> str | None:
    """What a figure is stamped with: the sample label of jets, the data-set line of point clouds."""
    return sample_label(data) or dataset_line(data)


def wrap_label(text: str, width: int = 40) -> str:
    """Break a label into lines of about `width` characters at its ", " separators."""
    def visible(t: str) -> int:
        return len(re.sub(r"\$|\\mathrm|[{}_]", "", t))

    lines, line = [], ""
    for part in text.split(", "):
        if line and visible(line) + 2 + visible(part) > width:
            lines.append(line + ",")
            line = part
        else:
            line = f"{line}, {part}" if line else part
    return "\n".join(lines + [line])


def stamp(ax, data, loc: str = "upper left", fontsize="x-small", width: int = 40) -> None:
    """Write `figure_label(data)` in the corner `loc` of `ax` (nothing when there is none), broken
    into lines of about `width` characters."""
    text = figure_label(data)
    if not text:
        return
    text = wrap_label(text, width)
    y, va = (0.97, "top") if loc.startswith("upper") else (0.03, "bottom")
    x, ha = (0.03, "left") if loc.endswith("left") else (0.97, "right")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=fontsize, color="0.25",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def stamp_figure(fig, data, title: str | None = None) -> None:
    """A suptitle: `title` (if any) over the figure label (sample or data-set line)."""
    text = figure_label(data)
    lines = [t for t in (title, text) if t]
    if lines:
        fig.suptitle("\n".join(lines), fontsize="small")
