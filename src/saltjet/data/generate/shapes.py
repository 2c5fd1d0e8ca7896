"""Procedural ModelNet10 stand-in: 10 classes of furniture-like meshes from trimesh primitives.

ModelNet10 cannot be downloaded here, so this writes a set of `.off` meshes in its exact folder
layout, `<out>/<class>/{train,test}/<class>_<id>.off` (ids 0001.. for train, continuing for test,
as in ModelNet), with ModelNet10's class names. The ModelNet reader and the point-cloud model
path therefore run unchanged on it.

Each class is an assembly of boxes, cylinders, cones, ellipsoids, rods and a torus (z up; see
`furniture.py`), e.g. a table is a top on four legs or a pedestal, a chair a seat on legs with a
backrest. Every mesh then gets nuisances shared by all classes: one small part dropped (15 %),
1-2 props (box, ball, can) on top or beside it (40 %), a random size, a per-axis aspect jitter
(1 + 0.2·N(0,1), clipped at ±2σ), a random turn about the vertical axis, a tilt of up to 10°, an
offset, and Gaussian vertex noise (0.2-1 % of its size).

Distinguishable, but not trivially: classes share parts and proportions on purpose. Tables and
desks are both tops on legs (a desk has a drawer pedestal, a back panel or a drawer under the
top; a table may have an apron or be a low coffee table); dressers and night stands are both
drawer boxes whose aspect ranges overlap once the reader scales them to the unit sphere; beds
and sofas are both long low boxes with a raised board (at the end vs along the back); chairs may
have arms like sofas. The turn about z means orientation cannot be used. Measured: a random
forest on rotation-invariant hand features (radius and height histograms, covariance
eigenvalues) trained on 60 meshes per class scores about 93 % on 30 per class, its errors in
those pairs (desk/dresser, dresser/night_stand, bed/sofa, desk/table).

Some files (about one in five) carry the counts glued to the header ("OFF490 518 0"), the quirk
of some real ModelNet files. Same seed → identical files; each file's generator depends only on
(seed, class, split, index), so changing the counts does not change the files they share.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saltjet.data.generate.furniture import BUILDERS, CLASS_NAMES, Parts
from saltjet.errors import ConfigError, DataError

SPLITS = ("train", "test")
GLUED_HEADER_FRACTION = 0.2
ASPECT_JITTER = 0.2  # per-axis scale factor 1 + 0.2·N(0, 1), clipped at ±2σ
MAX_TILT_DEG = 10.0
DROP_PART_PROBABILITY = 0.15  # lose one small part (a leg, a handle, a pillow)
PROP_PROBABILITY = 0.4  # 1-2 props (box, ball, can) on top of the object or on the floor beside


# ----------------------------------------------------------------------------------------------
# One mesh, one file


def _clutter(parts: Parts) -> None:
    """Shared nuisances: sometimes drop one small part, sometimes add props on top or beside."""
    g = parts.g
    lo = np.min([v.min(axis=0) for v, _ in parts.parts], axis=0)
    hi = np.max([v.max(axis=0) for v, _ in parts.parts], axis=0)
    diagonal = np.linalg.norm(hi - lo)
    if parts.chance(DROP_PART_PROBABILITY):
        small = [i for i, (v, _) in enumerate(parts.parts) if np.linalg.norm(np.ptp(v, axis=0)) < 0.3 * diagonal]
        if small:
            parts.parts.pop(int(g.choice(small)))
    if parts.chance(PROP_PROBABILITY):
        for _ in range(int(g.integers(1, 3))):
            size = g.uniform(0.05, 0.25, 3)
            x, y = g.uniform(lo[:2], hi[:2])
            if parts.chance(0.5):  # on top
                at = (x, y, hi[2] + size[2] / 2)
            else:  # on the floor beside
                at = (hi[0] + size[0] / 2 + parts.u(0.0, 0.1), y, size[2] / 2)
            kind = int(g.integers(3))
            if kind == 0:
                parts.box(size, at)
            elif kind == 1:
                parts.ellipsoid(size / 2, at)
            else:
                parts.cylinder(size[0] / 2, size[2], at)


def _rotation(axis, angle: float) -> np.ndarray:
    """(3, 3) rotation by `angle` about `axis` (Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross


def make_shape(class_name: str, g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random mesh of `class_name`.

    Returns:
        vertices: (V, 3) float64; faces: (T, 3) int64 triangles.
    """
    parts = Parts(g)
    BUILDERS[class_name](parts)
    _clutter(parts)
    sizes = np.array([len(v) for v, _ in parts.parts])
    offsets = np.repeat(np.cumsum(sizes) - sizes, [len(f) for _, f in parts.parts])
    vertices = np.concatenate([v for v, _ in parts.parts])
    faces = np.concatenate([f for _, f in parts.parts]) + offsets[:, None]
    size = np.ptp(vertices, axis=0).max()
    scale = g.uniform(0.5, 2.0) * (1.0 + ASPECT_JITTER * np.clip(g.standard_normal(3), -2, 2))
    turn = _rotation([0, 0, 1], g.uniform(0, 2 * np.pi))
    tilt = _rotation(np.append(g.standard_normal(2), 0.0), np.deg2rad(g.uniform(0, MAX_TILT_DEG)))
    vertices = vertices + g.normal(0.0, g.uniform(0.002, 0.01) * size, vertices.shape)
    vertices = (vertices * scale) @ (tilt @ turn).T + g.uniform(-0.5, 0.5, 3)
    return vertices, faces


def off_text(vertices: np.ndarray, faces: np.ndarray, glued: bool = False) -> str:
    """OFF file content; `glued` writes the counts on the header line ("OFF490 518 0").

    vertices: (V, 3) float; faces: (T, k) int (every face with k corners).
    """
    header = "OFF" if glued else "OFF\n"
    k = faces.shape[1]
    vertex_lines = ("%.6f %.6f %.6f\n" * len(vertices)) % tuple(vertices.ravel().tolist())
    face_lines = ((f"{k}" + " %d" * k + "\n") * len(faces)) % tuple(faces.ravel().tolist())
    return f"{header}{len(vertices)} {len(faces)} 0\n{vertex_lines}{face_lines}"


def shape_rng(seed: int, class_index: int, split_index: int, index: int) -> np.random.Generator:
    """The generator of one file: depends on (seed, class, split, index within split) only."""
    return np.random.default_rng([int(seed), class_index, split_index, index])


def generate_shapes(out_dir, per_class_train: int = 400, per_class_test: int = 100,
                    seed: int = 0, quiet: bool = False) -> Path:
    """Write the procedural 10-class set in the ModelNet10 layout.

    Args:
        out_dir: the root to write (`<out_dir>/<class>/{train,test}/<class>_<id>.off`).
        per_class_train: meshes per class in train (ModelNet10 has ~400 on average).
        per_class_test: meshes per class in test (≥ 0; ModelNet10 has ~90 on average).
        seed: same seed → identical files.
        quiet: no progress bar.
    Returns:
        out_dir as a Path.
    """
    if int(per_class_train) < 1 or int(per_class_test) < 0:
        raise ConfigError(f"need per_class_train ≥ 1 and per_class_test ≥ 0, got "
                          f"{per_class_train} and {per_class_test}")
    from tqdm import tqdm

    out = Path(out_dir)
    counts = (int(per_class_train), int(per_class_test))
    total = len(CLASS_NAMES) * sum(counts)
    with tqdm(total=total, desc="shapes", unit="mesh", disable=quiet) as bar:
        for ci, name in enumerate(CLASS_NAMES):
            for si, split in enumerate(SPLITS):
                folder = out / name / split
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise DataError(f"{folder}: cannot create ({e.strerror or e})") from None
                first_id = 1 + (counts[0] if si == 1 else 0)
                for i in range(counts[si]):
                    g = shape_rng(seed, ci, si, i)
                    glued = bool(g.random() < GLUED_HEADER_FRACTION)
                    vertices, faces = make_shape(name, g)
                    path = folder / f"{name}_{first_id + i:04d}.off"
                    try:
                        path.write_text(off_text(vertices, faces, glued), encoding="ascii")
                    except OSError as e:
                        raise DataError(f"{path}: cannot write ({e.strerror or e})") from None
                    bar.update()
    return out
