"""ModelNet reader: OFF parsing (header quirks, polygons, comments), area-weighted surface sampling,
unit-sphere normalisation, the folder layout, and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from saltjet.data.readers import modelnet
from saltjet.data.readers.modelnet import parse_off, read, sample_surface, sniff
from saltjet.errors import ConfigError, DataError

CUBE_VERTICES = [(-1, -1, -1), (1, -1, -1), (1, 1, -1), (-1, 1, -1),
                 (-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)]
CUBE_QUADS = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (2, 3, 7, 6), (1, 2, 6, 5), (3, 0, 4, 7)]


def off(vertices, faces, header: str = "normal", comments: bool = False) -> str:
    """OFF text; header "normal" ("OFF" then counts), "glued" ("OFF8 6 0") or "spaced" ("OFF 8 6 0")."""
    counts = f"{len(vertices)} {len(faces)} 0"
    head = {"normal": f"OFF\n{counts}\n", "glued": f"OFF{counts}\n", "spaced": f"OFF {counts}\n"}[header]
    v = "".join(" ".join(str(c) for c in row) + "\n" for row in vertices)
    f = "".join(f"{len(face)} " + " ".join(map(str, face)) + "\n" for face in faces)
    if comments:
        head = "# made by a test\n\n" + head.replace("\n", "  # counts\n", 1) + "\n# vertices\n"
        f = "\n# faces\n" + f + "\n\n"
    return head + v + f


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cube_mesh(scale=1.0, shift=(0.0, 0.0, 0.0)):
    return (np.asarray(CUBE_VERTICES, float) * scale + shift).tolist(), CUBE_QUADS


def modelnet_root(tmp_path: Path, layout: dict[str, dict[str, int]]) -> Path:
    """A ModelNet root: layout {class: {split: n_files}}, every file a cube of a different size."""
    root = tmp_path / "ModelNet10"
    i = 0
    for name, splits in layout.items():
        for split, n in splits.items():
            (root / name / split).mkdir(parents=True, exist_ok=True)
            for _ in range(n):
                i += 1
                v, f = cube_mesh(scale=1.0 + 0.1 * i, shift=(i, -i, 0.5 * i))
                write(root / name / split / f"{name}_{i:04d}.off", off(v, f, "glued" if i % 2 else "normal"))
    return root


# ---------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("header", ["normal", "glued", "spaced"])
@pytest.mark.parametrize("comments", [False, True])
def test_parse_off_headers_comments_and_quads(tmp_path, header, comments):
    v, f = cube_mesh()
    path = write(tmp_path / "cube.off", off(v, f, header, comments))
    vertices, triangles = parse_off(path)
    np.testing.assert_array_equal(vertices, np.asarray(CUBE_VERTICES, float))
    assert triangles.shape == (12, 3)  # 6 quads fanned into 2 triangles each
    # every triangle uses 3 corners of one of the quads, and the 2 halves cover the quad
    for q, quad in enumerate(CUBE_QUADS):
        halves = triangles[2 * q: 2 * q + 2]
        assert set(halves.ravel()) == set(quad)
        assert all(len(set(t)) == 3 for t in halves)


def test_parse_off_mixed_polygons_and_colours(tmp_path):
    # a pentagon, a triangle with an RGB colour, a quad: ragged rows take the slow path
    vertices = [(0, 0, 0), (1, 0, 0), (2, 1, 0), (1, 2, 0), (0, 1, 0), (0, 0, 1)]
    text = ("OFF\n6 3 0\n" + "".join(f"{a} {b} {c}\n" for a, b, c in vertices)
            + "5 0 1 2 3 4\n3 0 1 5 255 0 0\n4 1 2 5 0\n")
    _, triangles = parse_off(write(tmp_path / "mixed.off", text))
    expected = [(0, 1, 2), (0, 2, 3), (0, 3, 4), (0, 1, 5), (1, 2, 5), (1, 5, 0)]
    np.testing.assert_array_equal(triangles, expected)


def test_parse_off_accepts_text_without_reading(tmp_path):
    v, f = cube_mesh()
    vertices, triangles = parse_off(tmp_path / "never_written.off", off(v, f))
    assert vertices.shape == (8, 3) and triangles.shape == (12, 3)


# ---------------------------------------------------------------------------------------------- sampling


def test_area_weighted_sampling_matches_triangle_areas():
    # a big triangle (area 50) at z = 0 and a small one (area 2) at z = 10
    vertices = np.array([(0, 0, 0), (10, 0, 0), (0, 10, 0), (0, 0, 10), (2, 0, 10), (0, 2, 10)], float)
    triangles = np.array([(0, 1, 2), (3, 4, 5)])
    n = 40_000
    points = sample_surface(vertices, triangles, n, np.random.default_rng(1))
    small = points[:, 2] > 5
    p = 2 / 52
    assert abs(small.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    # uniform inside each triangle: inside it, and the mean is the triangle's centroid
    big = points[~small]
    assert np.all(big[:, 0] >= -1e-12) and np.all(big[:, 1] >= -1e-12)
    assert np.all(big[:, 0] + big[:, 1] <= 10 + 1e-9)
    np.testing.assert_allclose(big[:, :2].mean(axis=0), [10 / 3, 10 / 3], atol=0.05)
    np.testing.assert_allclose(points[small][:, :2].mean(axis=0), [2 / 3, 2 / 3], atol=0.03)


def test_read_cube_lies_on_surface_and_is_normalised(tmp_path):
    v, f = cube_mesh(scale=3.0, shift=(5, -2, 7))
    root = tmp_path / "MN"
    write(root / "box" / "train" / "box_0001.off", off(v, f, "glued"))
    data = read([root], n_particles=2000, seed=0, quiet=True)
    assert data.x.shape == (1, 2000, 3) and data.x.dtype == np.float32
    assert data.mask.shape == (1, 2000) and data.mask.all()
    assert data.kind == "pointcloud" and data.source == "modelnet" == modelnet.FORMAT
    assert data.feature_names == ["x", "y", "z"] and data.class_names == ["box"]
    np.testing.assert_array_equal(data.y, [0])
    pts = data.x[0].astype(np.float64)
    radius = np.linalg.norm(pts, axis=1)
    assert radius.max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(pts.mean(axis=0), 0.0, atol=1e-6)
    # on a cube surface: the Chebyshev distance to the cube's centre equals its half side
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    np.testing.assert_allclose(half, half.mean(), rtol=1e-4)
    np.testing.assert_allclose(np.abs(pts - centre).max(axis=1), half.mean(), rtol=1e-4)
    # area weighting on a cube: each of the 6 faces gets ~1/6 of the points
    axis = np.argmax(np.abs(pts - centre), axis=1)
    side = pts[np.arange(len(pts)), axis] > centre[axis]
    face = 2 * axis + side
    counts = np.bincount(face, minlength=6)
    assert np.all(np.abs(counts - 2000 / 6) < 5 * np.sqrt(2000 * (1 / 6) * (5 / 6)))


def test_read_is_reproducible_per_mesh(tmp_path):
    root = modelnet_root(tmp_path, {"a": {"train": 2, "test": 1}, "b": {"train": 1, "test": 1}})
    first = read([root], split="train", seed=3, n_particles=64, quiet=True)
    again = read([root], split="train", seed=3, n_particles=64, quiet=True)
    other = read([root], split="train", seed=4, n_particles=64, quiet=True)
    np.testing.assert_array_equal(first.x, again.x)
    assert not np.allclose(first.x, other.x)
    # a mesh gets the same points whichever split selection or file list reads it
    both = read([root], split="all", seed=3, n_particles=64, quiet=True)
    train_rows = [0, 1, 3]  # a/train x2, a/test, b/train, b/test
    np.testing.assert_array_equal(both.x[train_rows], first.x)
    one = read([root / "a" / "train" / "a_0002.off"], seed=3, n_particles=64, quiet=True)
    np.testing.assert_array_equal(one.x[0], first.x[1])


# ---------------------------------------------------------------------------------------------- layout


def test_class_names_come_from_folders_sorted(tmp_path):
    root = modelnet_root(tmp_path, {"zebra": {"train": 2, "test": 1}, "apple": {"train": 1},
                                    "mango": {"test": 2}})
    write(root / "README.txt", "not a class")
    (root / "notes").mkdir()  # a folder without train/test is not a class
    train = read([root], split="train", n_particles=16, quiet=True)
    test = read([root], split="test", n_particles=16, quiet=True)
    everything = read([root], split="all", n_particles=16, quiet=True)
    for data in (train, test, everything):
        assert data.class_names == ["apple", "mango", "zebra"]
    np.testing.assert_array_equal(train.y, [0, 2, 2])
    np.testing.assert_array_equal(test.y, [1, 1, 2])
    assert len(everything) == 6


def test_loose_files_take_the_class_of_their_folder_or_name(tmp_path):
    root = modelnet_root(tmp_path, {"chair": {"train": 1}, "sofa": {"test": 1}})
    v, f = cube_mesh()
    loose = write(tmp_path / "elsewhere" / "bed_0042.off", off(v, f))
    files = sorted(root.glob("*/*/*.off")) + [loose]
    data = read(files, n_particles=8, quiet=True)
    assert data.class_names == ["bed", "chair", "sofa"]
    np.testing.assert_array_equal(data.y, [1, 2, 0])


def test_sniff(tmp_path):
    root = modelnet_root(tmp_path, {"chair": {"test": 1}})
    assert sniff(root) and sniff(str(root))
    assert sniff(root / "chair" / "test" / "chair_0001.off")
    assert not sniff(root / "chair")
    assert not sniff(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert not sniff(tmp_path / "empty")
    assert not sniff(write(tmp_path / "x.txt", "OFF\n"))


def test_load_finds_the_modelnet_root(tmp_path):
    from saltjet.data import load

    root = modelnet_root(tmp_path, {"chair": {"train": 2, "test": 1}, "desk": {"train": 1}})
    data = load(str(root), n_particles=32, quiet=True)
    assert data.source == "modelnet" and data.x.shape == (3, 32, 3)
    test = load(str(root), format="modelnet", split="test", quiet=True)
    assert test.x.shape == (1, 1024, 3) and test.class_names == ["chair", "desk"]


# ---------------------------------------------------------------------------------------------- bad input

V3 = "0 0 0\n1 0 0\n0 1 0\n"
BAD_OFF = {
    "empty": "",
    "not_off": "PLY\n3 1 0\n" + V3 + "3 0 1 2\n",
    "no_counts": "OFF\n",
    "text_counts": "OFF\nthree 1 0\n" + V3 + "3 0 1 2\n",
    "more_declared": "OFF\n4 1 0\n" + V3 + "3 0 1 2\n",
    "fewer_declared": "OFF3 1 0\n" + V3 + "0 0 1\n3 0 1 2\n",
    "vertex_text": "OFF\n3 1 0\n0 0 0\n1 x 0\n0 1 0\n3 0 1 2\n",
    "vertex_nan": "OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n",
    "two_coordinates": "OFF\n3 1 0\n0 0\n1 0\n0 1\n3 0 1 2\n",
    "face_text": "OFF\n3 1 0\n" + V3 + "3 0 one 2\n",
    "index_out_of_range": "OFF\n3 1 0\n" + V3 + "3 0 1 3\n",
    "negative_index": "OFF\n3 1 0\n" + V3 + "3 0 -1 2\n",
    "fractional_index": "OFF\n3 1 0\n" + V3 + "3 0 1.5 2\n",
    "two_vertex_face": "OFF\n3 2 0\n" + V3 + "2 0 1\n3 0 1 2\n",
    "short_face": "OFF\n3 2 0\n" + V3 + "4 0 1 2\n3 0 1 2\n",
    "zero_area": "OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n",
    "no_faces": "OFF\n3 0 0\n" + V3,
}


@pytest.mark.parametrize("case", sorted(BAD_OFF))
def test_malformed_off_is_a_one_line_error_naming_the_file(tmp_path, case):
    path = write(tmp_path / "m" / "c" / "train" / f"{case}.off", BAD_OFF[case])
    with pytest.raises(DataError) as err:
        read([path], n_particles=8, on_error="raise", quiet=True)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    # skipping cannot help when every mesh is bad
    with pytest.raises(DataError, match="no readable mesh"):
        read([tmp_path / "m"], n_particles=8, quiet=True)


def test_bad_mesh_is_skipped_with_one_counted_warning(tmp_path):
    from saltjet.data.readers.screening import ReaderWarning

    root = modelnet_root(tmp_path, {"chair": {"train": 3}})
    bad = write(root / "chair" / "train" / "chair_0099.off", BAD_OFF["index_out_of_range"])
    write(root / "chair" / "train" / "chair_0100.off", BAD_OFF["zero_area"])
    with pytest.warns(ReaderWarning) as record:
        data = read([root], n_particles=8, quiet=True)
    assert len(record) == 1
    message = str(record[0].message)
    assert "skipped 2 of 5" in message and str(bad) in message
    assert len(data) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="chair_0099"):
            read([root], n_particles=8, on_error="raise", quiet=True)


def test_missing_and_empty_inputs(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read([tmp_path / "nowhere"], quiet=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no ModelNet class folders"):
        read([tmp_path / "empty"], quiet=True)
    root = modelnet_root(tmp_path, {"chair": {"train": 1}})
    with pytest.raises(DataError, match="split 'test'"):
        read([root], split="test", quiet=True)
    with pytest.raises(DataError, match="not an .off"):
        read([write(tmp_path / "mesh.obj", "v 0 0 0\n")], quiet=True)


def test_bad_options(tmp_path):
    root = modelnet_root(tmp_path, {"chair": {"train": 1}})
    with pytest.raises(ConfigError):
        read([root], split="validation", quiet=True)
    with pytest.raises(ConfigError):
        read([root], n_particles=0, quiet=True)
    with pytest.raises(ConfigError):
        read([root], on_error="ignore", quiet=True)
    with pytest.raises(ConfigError, match="n_particle"):
        read([root], n_particle=12, quiet=True)


def test_cli_reports_a_bad_mesh_without_traceback(tmp_path, capsys):
    from saltjet.cli import COMMANDS, main

    if "inspect" not in COMMANDS:
        pytest.skip("saltjet inspect is not registered")
    path = write(tmp_path / "broken.off", BAD_OFF["face_text"])
    assert main(["inspect", str(path), "--format", "modelnet"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "broken.off" in err
