"""Procedural ModelNet10 stand-in: layout, reproducibility, readability, class structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from saltjet.data.generate.shapes import CLASS_NAMES, generate_shapes, make_shape, off_text
from saltjet.data.readers.modelnet import parse_off, read, sniff
from saltjet.errors import ConfigError

MODELNET10 = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    return generate_shapes(tmp_path_factory.mktemp("shapes") / "ModelNet10", per_class_train=3,
                           per_class_test=1, seed=0, quiet=True)


def test_layout_matches_modelnet10(small_set):
    assert isinstance(small_set, Path)
    assert sorted(p.name for p in small_set.iterdir()) == MODELNET10 == list(CLASS_NAMES)
    for name in MODELNET10:
        assert sorted(p.name for p in (small_set / name).iterdir()) == ["test", "train"]
        train = sorted(p.name for p in (small_set / name / "train").iterdir())
        test = sorted(p.name for p in (small_set / name / "test").iterdir())
        assert train == [f"{name}_{i:04d}.off" for i in (1, 2, 3)]
        assert test == [f"{name}_0004.off"]  # test ids continue after train, as in ModelNet
    assert sniff(small_set)


def test_headers_include_the_glued_quirk(small_set):
    heads = [p.read_text().split("\n", 1)[0] for p in small_set.rglob("*.off")]
    glued = [h for h in heads if h != "OFF"]
    assert glued and len(glued) < len(heads)
    for head in glued:
        counts = head[3:].split()
        assert head.startswith("OFF") and head[3].isdigit() and len(counts) == 3


def test_meshes_are_valid(small_set):
    for path in sorted(small_set.rglob("*.off"))[::5]:
        vertices, triangles = parse_off(path)
        assert np.isfinite(vertices).all() and triangles.max() < len(vertices)
        a, b, c = (vertices[triangles[:, i]] for i in range(3))
        assert np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() > 0


def test_readable_by_the_modelnet_reader(small_set):
    data = read([small_set], split="all", n_particles=128, quiet=True)
    assert data.x.shape == (40, 128, 3) and data.class_names == MODELNET10
    np.testing.assert_array_equal(np.bincount(data.y), [4] * 10)
    np.testing.assert_allclose(np.linalg.norm(data.x, axis=2).max(axis=1), 1.0, atol=1e-5)
    assert read([small_set], split="test", n_particles=16, quiet=True).x.shape == (10, 16, 3)


def test_same_seed_same_files_and_counts_do_not_change_shared_files(tmp_path, small_set):
    again = generate_shapes(tmp_path / "again", 3, 1, seed=0, quiet=True)
    assert files(again) == files(small_set)
    other = generate_shapes(tmp_path / "other", 3, 1, seed=1, quiet=True)
    assert files(other).keys() == files(small_set).keys()
    assert all(files(other)[k] != v for k, v in files(small_set).items())
    fewer = files(generate_shapes(tmp_path / "fewer", 2, 0, seed=0, quiet=True))
    assert all(fewer[k] == files(small_set)[k] for k in fewer)
    assert not any("/test/" in k for k in fewer)


def test_classes_differ_but_instances_vary():
    """Same class: different meshes; a small random forest on rotation-invariant shape features
    (radius and height histograms) tells the classes apart far above chance (0.1)."""
    from sklearn.ensemble import RandomForestClassifier

    from saltjet.data.readers.modelnet import normalize_unit_sphere, sample_surface

    def features(points):
        p = normalize_unit_sphere(points)
        radius = np.histogram(np.linalg.norm(p, axis=1), bins=8, range=(0, 1))[0]
        height = np.histogram(p[:, 2], bins=8, range=(-1, 1))[0]
        return np.concatenate([radius, height]) / len(points)

    rng = np.random.default_rng(0)
    n_train, n_test = 10, 5
    x, y = [], []
    for label, name in enumerate(CLASS_NAMES):
        shapes = [make_shape(name, np.random.default_rng([7, label, i])) for i in range(n_train + n_test)]
        assert len({v.tobytes() for v, _ in shapes}) == len(shapes)
        x += [features(sample_surface(v, f, 512, rng)) for v, f in shapes]
        y += [label] * len(shapes)
    x, y = np.array(x), np.array(y)
    train = np.tile(np.arange(n_train + n_test) < n_train, len(CLASS_NAMES))
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(x[train], y[train])
    accuracy = (forest.predict(x[~train]) == y[~train]).mean()
    assert accuracy > 0.4  # 0.64 measured with these seeds; chance is 0.1


def test_off_text_round_trip(tmp_path):
    vertices, faces = make_shape("chair", np.random.default_rng(0))
    for glued in (False, True):
        path = tmp_path / f"chair_{glued}.off"
        path.write_text(off_text(vertices, faces, glued))
        v, f = parse_off(path)
        np.testing.assert_allclose(v, vertices, atol=5e-7)
        np.testing.assert_array_equal(f, faces)


def test_bad_counts(tmp_path):
    with pytest.raises(ConfigError):
        generate_shapes(tmp_path, per_class_train=0, quiet=True)
    with pytest.raises(ConfigError):
        generate_shapes(tmp_path, per_class_train=2, per_class_test=-1, quiet=True)
