"""ModelNet10 reader: OFF meshes in `ModelNet10/<class>/{train,test}/<class>_<id>.off` folders.

Each mesh becomes one point cloud: `n_particles` points sampled uniformly on its surface (triangles
chosen in proportion to their area, then a uniform point in the triangle), centred at the cloud's
centroid and scaled so the farthest point lies on the unit sphere. This is the usual ModelNet
input (1,024 points). Clouds are returned as `ParticleData` with x = (x, y, z), every slot real.

OFF parsing is bulk numpy (`np.loadtxt` on the vertex and face blocks). It accepts comments (`#`),
blank lines, the counts on the header line or glued to it ("OFF490 518 0", as in some ModelNet
files), extra per-vertex or per-face columns (colours), and polygons with more than three
vertices (fan-triangulated).

Bad input: a missing path, a folder without ModelNet files, or a split with no files is a
one-line `DataError`. A malformed mesh (wrong counts, non-numeric values, face index out of
range, zero surface area, ...) is, by default (`on_error="skip"`), left out with ONE
`ReaderWarning` that counts the skipped files and names the first (a data set of thousands of
meshes should not be lost to one corrupt file); if no mesh is readable that becomes a `DataError`.
`on_error="raise"` turns the first bad mesh into a `DataError` naming the file.

Sampling is reproducible: each mesh's generator is seeded by (`seed`, the mesh's
`<class>/<split>/<file>` path), so a mesh gets the same points whichever split or file list it
is read with.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from saltjet.data.particles import ParticleData
from saltjet.data.readers.files import file_kind
from saltjet.data.readers.screening import ReaderWarning, check_label_policy, check_nonfinite_policy, refuse_options
from saltjet.errors import ConfigError, DataError

FORMAT = "modelnet"
SPLITS = ("train", "test")
FEATURE_NAMES = ["x", "y", "z"]
DEFAULT_N_POINTS = 1024


@dataclass(frozen=True)
class MeshFile:
    """One mesh to read: its path, class name and the key that seeds its sampling."""

    path: Path
    class_name: str
    key: str


# ----------------------------------------------------------------------------------------------
# OFF parsing


def _strip_comments(text: str) -> list[str]:
    """Non-blank lines of `text` with `#` comments removed."""
    lines = text.splitlines()
    if "#" in text:
        lines = [line.split("#", 1)[0] for line in lines]
    return [line for line in lines if line.strip()]


def _parse_counts(tokens: list[str], path: Path) -> tuple[int, int]:
    if len(tokens) < 2:
        raise DataError(f"{path}: OFF header has no vertex/face counts")
    try:
        counts = [int(t) for t in tokens[:3]]
    except ValueError:
        raise DataError(f"{path}: OFF counts {' '.join(tokens[:3])!r} are not whole numbers") from None
    n_vertices, n_faces = counts[0], counts[1]
    if n_vertices < 3 or n_faces < 1:
        raise DataError(f"{path}: OFF mesh needs ≥ 3 vertices and ≥ 1 face, header says "
                        f"{n_vertices} vertices, {n_faces} faces")
    return n_vertices, n_faces


def _fan_triangles(flines: list[str], n_vertices: int, path: Path) -> np.ndarray:
    """(T, 3) int64 triangles from OFF face lines `k i1 .. ik [colour...]`, polygons fanned."""
    try:
        block = np.loadtxt(flines, dtype=np.float64, ndmin=2, comments=None)
        lengths = np.full(len(flines), block.shape[1])
        flat = block.ravel()
    except ValueError:
        # ragged rows (mixed polygon sizes or colours): one token count per line, then one flat
        # parse of every token.
        tokens = " ".join(flines).split()
        lengths = np.fromiter(map(len, map(str.split, flines)), dtype=np.int64, count=len(flines))
        try:
            flat = np.array(tokens, dtype=np.float64)
        except ValueError:
            raise DataError(f"{path}: non-numeric value in the face block") from None
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    k = flat[starts]
    if not np.all(np.isfinite(k)) or np.any(k != np.round(k)):
        raise DataError(f"{path}: face vertex counts must be whole numbers")
    k = k.astype(np.int64)
    if k.min() < 3:
        raise DataError(f"{path}: face {int(np.argmin(k))} has {k.min()} vertices (need ≥ 3)")
    if np.any(lengths < k + 1):
        bad = int(np.argmax(lengths < k + 1))
        raise DataError(f"{path}: face {bad} lists fewer indices than its count {k[bad]}")
    # fan: polygon (v0, v1, ..., v_{k-1}) -> triangles (v0, v_j, v_{j+1}) for j = 1..k-2
    n_tri = k - 2
    face = np.repeat(np.arange(len(k)), n_tri)
    j = np.arange(n_tri.sum()) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri) + 1
    first = starts[face] + 1
    index = np.stack([flat[first], flat[first + j], flat[first + j + 1]], axis=1)
    if not np.all(np.isfinite(index)) or np.any(index != np.round(index)):
        raise DataError(f"{path}: face indices must be whole numbers")
    index = index.astype(np.int64)
    outside = (index < 0) | (index >= n_vertices)
    if outside.any():
        raise DataError(f"{path}: face index {int(index[outside][0])} out of range for "
                        f"{n_vertices} vertices")
    return index


def parse_off(path: Path | str, text: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an OFF mesh.

    Args:
        path: the file (named in errors; read unless `text` is given).
        text: the file's content, if already in memory.
    Returns:
        vertices: (V, 3) float64; triangles: (T, 3) int64 vertex indices (polygons fanned).
    Raises:
        DataError: one line naming the file, for anything that is not a valid OFF mesh.
    """
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    lines = _strip_comments(text)
    if not lines or not lines[0].lstrip().startswith("OFF"):
        head = lines[0].strip()[:20] if lines else ""
        raise DataError(f"{path}: not an OFF file (first line {head!r})")
    header = lines[0].lstrip()[3:].split()  # "OFF", "OFF 8 6 0" or glued "OFF8 6 0"
    body_start = 1
    if not header:
        if len(lines) < 2:
            raise DataError(f"{path}: OFF file ends before the vertex/face counts")
        header = lines[1].split()
        body_start = 2
    n_vertices, n_faces = _parse_counts(header, path)
    body = lines[body_start:]
    if len(body) != n_vertices + n_faces:
        raise DataError(f"{path}: header says {n_vertices} vertices + {n_faces} faces but the file "
                        f"has {len(body)} data lines")
    try:
        vertices = np.loadtxt(body[:n_vertices], dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        raise DataError(f"{path}: vertex block is not {n_vertices} rows of numbers") from None
    if vertices.shape[1] < 3:
        raise DataError(f"{path}: vertices have {vertices.shape[1]} coordinates, need 3")
    vertices = vertices[:, :3]
    if not np.all(np.isfinite(vertices)):
        raise DataError(f"{path}: vertex coordinates contain NaN or inf")
    triangles = _fan_triangles(body[n_vertices:], n_vertices, path)
    return vertices, triangles


# ----------------------------------------------------------------------------------------------
# Surface sampling


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, n_points: int,
                   rng: np.random.Generator, name: str = "mesh") -> np.ndarray:
    """Points uniform on the surface: triangles drawn by area, uniform barycentric inside.

    Args:
        vertices: (V, 3) float; triangles: (T, 3) int indices; n_points: points to draw.
        rng: the generator (seeded by the caller).
        name: named in the error for a mesh of zero area.
    Returns:
        points: (n_points, 3) float64.
    """
    a, b, c = (vertices[triangles[:, i]] for i in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = area.sum()
    if not np.isfinite(total) or total <= 0:
        raise DataError(f"{name}: mesh has zero surface area")
    cdf = np.cumsum(area)
    tri = np.searchsorted(cdf, rng.random(n_points) * cdf[-1], side="right")
    tri = np.minimum(tri, len(area) - 1)
    u, v = rng.random((2, n_points, 1))
    flip = (u + v) > 1.0  # reflect into the triangle: uniform barycentric coordinates
    u, v = np.where(flip, 1.0 - u, u), np.where(flip, 1.0 - v, v)
    return a[tri] + u * (b[tri] - a[tri]) + v * (c[tri] - a[tri])


def normalize_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Centre (n, 3) points at their centroid and scale the farthest one to radius 1."""
    centred = points - points.mean(axis=0)
    radius = np.linalg.norm(centred, axis=1).max()
    return centred / radius if radius > 0 else centred


def mesh_rng(seed: int, key: str) -> np.random.Generator:
    """The sampling generator of one mesh: depends on `seed` and the mesh's relative path only."""
    return np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])


def read_mesh_cloud(mesh: MeshFile, n_points: int, seed: int) -> np.ndarray:
    """(n_points, 3) float32 unit-sphere cloud of one mesh file; DataError if malformed."""
    vertices, triangles = parse_off(mesh.path)
    points = sample_surface(vertices, triangles, n_points, mesh_rng(seed, mesh.key), str(mesh.path))
    return normalize_unit_sphere(points).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Folder layout


def _is_off(path: Path) -> bool:
    return path.suffix.lower() == ".off"


def sniff(path) -> bool:
    """True for a `.off` file or a folder laid out as `<class>/{train,test}/*.off`."""
    try:
        path = Path(path)
        if path.is_file():
            return _is_off(path)
        if path.is_dir():
            for split in SPLITS:
                if next(path.glob(f"*/{split}/*.off"), None) is not None:
                    return True
        return False
    except OSError:
        return False


def class_folders(root: Path) -> list[str]:
    """Sorted names of the class folders of a ModelNet root (those holding train/ or test/)."""
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and any((p / s).is_dir() for s in SPLITS))


def _loose_file_class(path: Path) -> str:
    """Class of a `.off` file named directly: `<class>/<split>/<file>` -> class, else the stem
    without its trailing `_<id>` (`chair_0001.off` -> chair)."""
    if path.parent.name in SPLITS and path.parent.parent.name:
        return path.parent.parent.name
    stem = path.stem
    head, _, tail = stem.rpartition("_")
    return head if head and tail.isdigit() else stem


def find_meshes(paths: list[Path], split: str) -> tuple[list[MeshFile], list[str]]:
    """The mesh files selected by `paths` and `split`, and the sorted class names.

    Folders are ModelNet roots: every class folder present counts as a class (even if the split
    has no file for it, so labels agree between splits). Files named directly are read whatever
    `split` says.
    """
    splits = SPLITS if split == "all" else (split,)
    found: list[MeshFile] = []
    classes: set[str] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        if path.is_file():
            if not _is_off(path):
                raise DataError(f"{path}: not an .off mesh")
            name = _loose_file_class(path)
            classes.add(name)
            key = "/".join(path.parts[-3:])
            found.append(MeshFile(path, name, key))
            continue
        names = class_folders(path)
        if not names:
            raise DataError(f"{path}: no ModelNet class folders (<class>/train, <class>/test) here")
        classes.update(names)
        for name in names:
            for s in splits:
                for f in sorted((path / name / s).glob("*.off")):
                    if file_kind(f) == "file":  # never open a named pipe or device
                        found.append(MeshFile(f, name, f"{name}/{s}/{f.name}"))
    if not found:
        where = ", ".join(str(p) for p in paths)
        raise DataError(f"no .off meshes for split {split!r} in {where}")
    return found, sorted(classes)


# ----------------------------------------------------------------------------------------------
# Reader entry point


def read(paths, *, max_jets: int | None = None, n_particles: int | None = None, features=None,
         quiet: bool = False, on_nonfinite: str = "raise", labels: str = "required",
         split: str = "train", seed: int = 0, on_error: str = "skip", **options) -> ParticleData:
    """Read ModelNet-style OFF meshes into point clouds.

    Args:
        paths: list of ModelNet root folders and/or `.off` files.
        max_jets: stop after this many readable meshes.
        n_particles: points sampled per mesh (default 1,024).
        features: must be None: a cloud's columns are x, y, z (ConfigError otherwise).
        quiet: no progress bar when True.
        on_nonfinite, labels: the common reader options, checked and otherwise without effect
            here: a mesh with NaN/inf vertices is malformed and follows `on_error`, and every
            mesh has its folder's label.
        split: "train", "test" or "all" (both), for folders.
        seed: sampling seed (per mesh, see the module docstring).
        on_error: "skip" (default: leave malformed meshes out, one counted warning) or "raise".
    Returns:
        ParticleData with x: (N, n_particles, 3) float32 (x, y, z) on the unit sphere, mask
        (N, n_particles) all True, y (N,) int64 into the sorted class names, kind "pointcloud",
        source "modelnet".
    """
    refuse_options(FORMAT, options)
    check_nonfinite_policy(on_nonfinite)
    check_label_policy(labels)
    if features is not None:
        raise ConfigError(f"the {FORMAT} format has no feature selection")
    if split not in (*SPLITS, "all"):
        raise ConfigError(f"unknown split {split!r}; choose train, test or all")
    if on_error not in ("skip", "raise"):
        raise ConfigError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    n_points = DEFAULT_N_POINTS if n_particles is None else int(n_particles)
    if n_points < 1:
        raise ConfigError(f"n_particles must be ≥ 1, got {n_particles}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    meshes, class_names = find_meshes(list(paths), split)
    from tqdm import tqdm

    label = {name: i for i, name in enumerate(class_names)}
    x = np.empty((len(meshes), n_points, 3), dtype=np.float32)
    y = np.empty(len(meshes), dtype=np.int64)
    kept, seen, errors = 0, 0, []
    for mesh in tqdm(meshes, desc="modelnet", unit="mesh", disable=quiet, leave=False):
        if max_jets is not None and kept >= max_jets:
            break
        seen += 1
        try:
            x[kept] = read_mesh_cloud(mesh, n_points, seed)
        except DataError as e:
            if on_error == "raise":
                raise
            errors.append(str(e))
            continue
        y[kept] = label[mesh.class_name]
        kept += 1
    if errors:
        if kept == 0:
            raise DataError(f"no readable mesh among {seen}; first: {errors[0]}")
        warnings.warn(f"modelnet: skipped {len(errors)} of {seen} malformed meshes; "
                      f"first: {errors[0]}", ReaderWarning, stacklevel=2)
    return ParticleData(x[:kept], np.ones((kept, n_points), dtype=bool), y[:kept],
                        class_names, FEATURE_NAMES, kind="pointcloud", source=FORMAT)
