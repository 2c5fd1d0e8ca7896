"""The data a study trains and tests on: the built-in generated jets (or shapes), or the user's files.

    jets, default       Pythia 8 jets of g, q, W, Z, t (`saltjet.data.generate.jets.ensure_dataset`,
                        cached under `cache_dir`), read with `saltjet.data.load`
    jets, --data PATH   the user's files, any format `saltjet.data.load` reads
    pointcloud          the procedural 10-class shapes (`saltjet.data.generate.shapes`) in the
                        ModelNet10 layout (cached), or a ModelNet10 root with --data; the files'
                        train/test split is kept

Jets have no fixed test split: the study cuts each task's jets once with
`saltjet.data.pipeline.split_for_run` and hands the train/validation parts to every training of
that task and the held-out `test_fraction` to its evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from saltjet.data.particles import ParticleData

DEFAULT_CACHE = Path("data")
SHAPES_TEST_FRACTION = 0.25
POINTCLOUD_SEED = 0
JETS_SEED = 0


@dataclass
class StudyData:
    """pool: what training splits into train/validation (and test, when `test` is None);
    test: a fixed test set (point clouds); description: for the report."""

    pool: ParticleData
    test: ParticleData | None
    description: dict = field(default_factory=dict)


def class_counts(data: ParticleData) -> dict[str, int]:
    counts = np.bincount(data.y, minlength=len(data.class_names))
    return {name: int(c) for name, c in zip(data.class_names, counts)}


def load_jets(data_path, jets_per_class: int, feature_names: list[str], cache_dir: Path = DEFAULT_CACHE,
              fmt: str = "auto", quiet: bool = True) -> StudyData:
    """Jets for a study: generated (cached) when `data_path` is None, else read from `data_path`."""
    from saltjet.data.loading import load
    from saltjet.data.pipeline import reader_features

    generated = data_path is None
    if generated:
        from saltjet.data.generate.jets import ensure_dataset

        out = Path(cache_dir) / f"jets_{jets_per_class}pc_seed{JETS_SEED}"
        paths = ensure_dataset(out, jets_per_class, seed=JETS_SEED, quiet=quiet)
        source = [str(p) for p in paths]
        fmt = "hls4ml"
    else:
        source = data_path
    extras = reader_features(source, fmt, feature_names)
    data = load(source, format=fmt, features=extras, quiet=quiet)
    description = {
        "kind": "jets",
        "generated": generated,
        "source": ("built-in Pythia 8.3 + FastJet jets (13 TeV pp, anti-kT R=0.8, 800 < pT < 1300 GeV, "
                   "no detector simulation)") if generated else str(data_path),
        "path": str(Path(source[0]).parent) if generated else str(data_path),
        "format": data.source or fmt,
        "jets_per_class_requested": jets_per_class if generated else None,
        "n_jets": len(data),
        "class_counts": class_counts(data),
        "n_slots": data.n_particles,
        "mean_multiplicity": float(data.multiplicity.mean()) if len(data) else 0.0,
    }
    return StudyData(data, None, description)


def load_pointclouds(data_path, per_class: int, n_points: int, cache_dir: Path = DEFAULT_CACHE,
                     quiet: bool = True) -> StudyData:
    """Point clouds for a study: the procedural shapes (made once, cached) or a ModelNet10 root."""
    from saltjet.data.loading import load

    generated = data_path is None
    if generated:
        from saltjet.data.generate.shapes import generate_shapes

        per_test = max(2, int(round(per_class * SHAPES_TEST_FRACTION)))
        root = Path(cache_dir) / f"shapes_{per_class}pc_seed{POINTCLOUD_SEED}"
        marker = root / ".complete"
        if not marker.is_file():
            generate_shapes(root, per_class_train=per_class, per_class_test=per_test, seed=POINTCLOUD_SEED, quiet=quiet)
            marker.write_text("ok\n")
    else:
        root = Path(data_path)
    train = load(str(root), format="modelnet", n_particles=n_points, split="train", quiet=quiet)
    test = load(str(root), format="modelnet", n_particles=n_points, split="test", quiet=quiet)
    description = {
        "kind": "pointcloud",
        "generated": generated,
        "source": "procedural 10-class shapes in the ModelNet10 layout (saltjet.data.generate.shapes)"
        if generated else str(data_path),
        "path": str(root),
        "format": "modelnet",
        "n_jets": len(train) + len(test),
        "n_train_pool": len(train),
        "n_test": len(test),
        "class_counts": class_counts(train),
        "n_slots": train.n_particles,
    }
    return StudyData(train, test, description)
