"""The built-in Pythia 8 + FastJet generator: layout, labels, feature consistency, seeds, CLI errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from saltjet.cli import main
from saltjet.data.generate.jets import GenerateOptions, cached_files, ensure_dataset, generate_jets, parse_shard, plan_chunks
from saltjet.data.hls4ml_layout import (
    CLASS_NAMES,
    JET_FEATURES,
    LABEL_SLICE,
    N_SLOTS,
    PARTICLE_FEATURE_NAMES_AS_PUBLISHED,
    PARTICLE_FEATURES,
)
from saltjet.data.kinematics import hls4ml_particle_features, principal_axis_rotation, wrap_phi
from saltjet.errors import ConfigError

P = {name: i for i, name in enumerate(PARTICLE_FEATURES)}
J = {name: i for i, name in enumerate(JET_FEATURES)}
PER_CLASS = 12


def read_all(paths):
    cons, jets = [], []
    for path in paths:
        with h5py.File(path, "r") as f:
            cons.append(f["jetConstituentList"][:])
            jets.append(f["jets"][:])
    return np.concatenate(cons), np.concatenate(jets)


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("jets")
    opts = GenerateOptions(jets_per_class=PER_CLASS, seed=11, mpi=False, chunk_jets=12, jets_per_file=25)
    paths = generate_jets(out, opts, workers=1, quiet=True)
    return out, paths


def test_files_layout_and_names(small_set):
    out, paths = small_set
    assert [p.name for p in paths] == ["jetImage_0_150p_0_25.h5", "jetImage_0_150p_25_50.h5", "jetImage_0_150p_50_60.h5"]
    with h5py.File(paths[0], "r") as f:
        assert f["jetConstituentList"].shape == (25, N_SLOTS, 16)
        assert f["jetConstituentList"].dtype == np.float32
        assert f["jets"].shape == (25, 59)
        assert [n.decode() for n in f["jetFeatureNames"][:]] == JET_FEATURES
        assert [n.decode() for n in f["particleFeatureNames"][:]] == PARTICLE_FEATURE_NAMES_AS_PUBLISHED
        assert len(f["particleFeatureNames"]) == 17
        assert "j_mass_prun" in json.loads(f.attrs["not_computed_jet_features"])
    manifest = json.loads((out / "generate_manifest_0of1.json").read_text())
    assert manifest["files"] == [p.name for p in paths]
    assert manifest["n_jets"] == 5 * PER_CLASS
    assert sum(c["jets"] for c in manifest["classes"].values()) == 5 * PER_CLASS


def test_labels_one_hot_balanced_and_shuffled(small_set):
    _, jets = read_all(small_set[1])
    labels = jets[:, LABEL_SLICE]
    assert set(np.unique(labels)) <= {0.0, 1.0}
    np.testing.assert_array_equal(labels.sum(1), 1.0)
    np.testing.assert_array_equal(jets[:, J["j_undef"]], 0.0)
    np.testing.assert_array_equal(labels.sum(0), PER_CLASS)
    y = labels.argmax(1)
    assert len(np.unique(y[:PER_CLASS])) > 1  # shuffled, not class blocks


def test_jet_kinematics_in_window(small_set):
    _, jets = read_all(small_set[1])
    assert np.all((jets[:, J["j_pt"]] > 800) & (jets[:, J["j_pt"]] < 1300))
    assert np.all(np.abs(jets[:, J["j_eta"]]) < 2)
    np.testing.assert_array_equal(jets[:, J["j_ptfrac"]], 1.0)
    assert np.all(jets[:, J["j_mass_mmdt"]] <= jets[:, J["j_mass"]] * (1 + 1e-5))
    assert np.all(jets[:, J["j_tau1_b1"]] > 0)
    with h5py.File(small_set[1][0], "r") as f:
        skipped = json.loads(f.attrs["not_computed_jet_features"])
    computed = [n for n in JET_FEATURES if n not in skipped and n != "j_undef"]
    assert all(np.all(jets[:, J[n]] == 0) for n in skipped)
    assert all(np.any(jets[:, J[n]] != 0) for n in computed)


def test_particle_features_consistent(small_set):
    cons, jets = read_all(small_set[1])
    c = cons.astype(np.float64)
    mult = jets[:, J["j_multiplicity"]].astype(int)
    n_real = (c[..., P["j1_e"]] > 0).sum(1)
    np.testing.assert_array_equal(n_real, np.minimum(mult, N_SLOTS))
    mask = np.arange(N_SLOTS)[None] < n_real[:, None]
    assert np.all(c[~mask] == 0)
    pt = c[..., P["j1_pt"]]
    assert np.all(np.diff(np.where(mask, pt, -1), axis=1) <= 1e-4)  # pT descending, padding last
    np.testing.assert_allclose(pt, np.hypot(c[..., P["j1_px"]], c[..., P["j1_py"]]), rtol=1e-5, atol=1e-5)
    jpt = jets[:, J["j_pt"]][:, None]
    np.testing.assert_allclose(c[..., P["j1_ptrel"]], np.where(mask, pt / jpt, 0), rtol=1e-5, atol=1e-7)
    dr = np.hypot(c[..., P["j1_etarel"]], wrap_phi(c[..., P["j1_phirel"]]))
    np.testing.assert_allclose(c[..., P["j1_deltaR"]], dr, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c[..., P["j1_etarel"]], np.where(mask, c[..., P["j1_eta"]] - jets[:, [J["j_eta"]]], 0),
                               atol=1e-5)  # fmt: skip
    rot = np.hypot(c[..., P["j1_etarot"]], c[..., P["j1_phirot"]])
    np.testing.assert_allclose(rot, dr, rtol=1e-4, atol=1e-6)  # a rotation keeps distances
    assert np.all(np.abs(c[..., P["j1_costhetarel"]]) <= 1 + 1e-6)
    full = mult <= N_SLOTS  # jets with every constituent stored
    vec_pt = np.hypot(c[..., P["j1_px"]].sum(1), c[..., P["j1_py"]].sum(1))
    np.testing.assert_allclose(vec_pt[full], jets[full, J["j_pt"]], rtol=1e-4)
    np.testing.assert_allclose(c[full, :, P["j1_erel"]].sum(1), 1.0, rtol=1e-4)
    assert np.all(pt.sum(1)[full] >= vec_pt[full] * (1 - 1e-5))
    p = c[..., :4].sum(1)
    mass = np.sqrt(np.maximum(p[:, 3] ** 2 - (p[:, :3] ** 2).sum(1), 0))
    np.testing.assert_allclose(mass[full], jets[full, J["j_mass"]], rtol=2e-3, atol=0.05)


def test_principal_axis_rotation_aligns_elongated_jet():
    rng = np.random.default_rng(0)
    major = rng.normal(0, 0.3, (2, 200))
    minor = rng.normal(0, 0.02, (2, 200))
    angle = np.array([0.7, -1.2])[:, None]
    eta = np.cos(angle) * major - np.sin(angle) * minor
    phi = np.sin(angle) * major + np.cos(angle) * minor
    eta_rot, phi_rot = principal_axis_rotation(eta, phi, np.ones_like(eta))
    assert np.all(np.std(phi_rot, axis=1) < 0.03) and np.all(np.std(eta_rot, axis=1) > 0.25)
    np.testing.assert_allclose(eta_rot**2 + phi_rot**2, eta**2 + phi**2, rtol=1e-10)


def test_particle_features_padding_zero_and_wrap():
    p4 = np.zeros((1, 3, 4))
    p4[0, 0] = [-10.0, -0.1, 0.0, 10.0005]  # φ ≈ −π + ε
    p4[0, 1] = [-10.0, 0.1, 0.0, 10.0005]  # φ ≈ +π − ε
    mask = np.array([[True, True, False]])
    f = hls4ml_particle_features(p4, mask, p4[:, :2].sum(1))
    assert np.all(f[0, 2] == 0)
    assert np.all(np.abs(f[0, :2, P["j1_phirel"]]) < 0.02)  # wrapped across ±π


@pytest.mark.slow  # spawning workers imports torch through `saltjet`: ~10-30 s on a busy machine
def test_seed_reproducible_and_worker_independent(tmp_path):
    opts = GenerateOptions(jets_per_class=2, seed=5, mpi=False, chunk_jets=2, jets_per_file=4)
    a = generate_jets(tmp_path / "a", opts, workers=1, quiet=True)
    b = generate_jets(tmp_path / "b", opts, workers=2, quiet=True)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes()


def test_same_seed_same_bytes(small_set, tmp_path):
    out, paths = small_set
    opts = GenerateOptions(jets_per_class=PER_CLASS, seed=11, mpi=False, chunk_jets=12, jets_per_file=25)
    again = generate_jets(tmp_path, opts, workers=1, quiet=True)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_different_seed_different_jets():
    from saltjet.data.generate.pythia import generate_class_jets

    a, b = (generate_class_jets(1, 2, seed, mpi=False) for seed in (7, 8))
    again = generate_class_jets(1, 2, 7, mpi=False)
    np.testing.assert_array_equal(a.p4, again.p4)
    assert a.p4.shape != b.p4.shape or not np.array_equal(a.p4, b.p4)


def test_shards_partition_the_chunks():
    full = {(c.class_index, c.chunk_index, c.seed) for c in plan_chunks(GenerateOptions(jets_per_class=50, chunk_jets=10))}
    parts = [plan_chunks(GenerateOptions(jets_per_class=50, chunk_jets=10, shard=i, n_shards=3)) for i in range(3)]
    seen = [(c.class_index, c.chunk_index, c.seed) for part in parts for c in part]
    assert len(seen) == len(set(seen)) and set(seen) == full
    for part in parts:  # every shard holds all classes equally
        counts = np.bincount([c.class_index for c in part], weights=[c.n_jets for c in part], minlength=5)
        assert len(set(counts)) == 1
    assert len({c.seed for c in plan_chunks(GenerateOptions(jets_per_class=50, chunk_jets=10, seed=1))} & {s for *_, s in full}) == 0


def test_class_subset_keeps_the_full_runs_chunks():
    full = plan_chunks(GenerateOptions(jets_per_class=50, chunk_jets=10, seed=3))
    sub = plan_chunks(GenerateOptions(jets_per_class=50, chunk_jets=10, seed=3, classes=("t", "q")))
    t, q = CLASS_NAMES.index("t"), CLASS_NAMES.index("q")
    assert sub == [c for c in full if c.class_index in (q, t)]  # same seeds, label order
    settings = GenerateOptions(jets_per_class=5, classes=("t", "q")).manifest_settings()
    assert settings["classes"] == ["q", "t"]
    assert "classes" not in GenerateOptions(jets_per_class=5).manifest_settings()  # old manifests still match


def test_class_subset_files(tmp_path):
    opts = GenerateOptions(jets_per_class=2, seed=4, mpi=False, chunk_jets=2, classes=("t",))
    paths = generate_jets(tmp_path, opts, workers=1, quiet=True)
    _, jets = read_all(paths)
    labels = jets[:, LABEL_SLICE]
    assert labels.shape == (2, 5) and np.all(labels.argmax(axis=1) == CLASS_NAMES.index("t"))
    manifest = json.loads((tmp_path / "generate_manifest_0of1.json").read_text())
    assert list(manifest["classes"]) == ["t"] and manifest["n_jets"] == 2
    assert cached_files(tmp_path, opts) == paths
    assert cached_files(tmp_path, GenerateOptions(jets_per_class=2, seed=4, mpi=False, chunk_jets=2)) is None


def test_ensure_dataset_caches(tmp_path):
    first = ensure_dataset(tmp_path, jets_per_class=1, seed=1, workers=1, quiet=True, mpi=False)
    stamp = [p.stat().st_mtime_ns for p in first]
    again = ensure_dataset(tmp_path, jets_per_class=1, seed=1, workers=1, quiet=True, mpi=False)
    assert again == first and [p.stat().st_mtime_ns for p in again] == stamp
    opts = GenerateOptions(jets_per_class=1, seed=1, mpi=False)
    assert cached_files(tmp_path, opts) == first
    assert cached_files(tmp_path, GenerateOptions(jets_per_class=1, seed=2, mpi=False)) is None
    first[0].unlink()  # incomplete -> not a cache hit
    assert cached_files(tmp_path, opts) is None


@pytest.mark.parametrize("text", ["3/2", "2/2", "-1/2", "1", "a/b", "0/0"])
def test_parse_shard_rejects(text):
    with pytest.raises(ConfigError):
        parse_shard(text)


@pytest.mark.parametrize(
    "argv",
    [
        ["--jets-per-class", "10", "--shard", "3/2"],
        ["--jets-per-class", "10", "--shard", "x"],
        ["--jets-per-class", "10", "--shard", "1/2"],  # more shards than chunks
        ["--jets-per-class", "10", "--seed", "-3"],
        ["--jets-per-class", "10", "--classes", "t,top"],
        ["--jets-per-class", "10", "--classes", "t,t"],
        ["--jets-per-class", "10", "--classes", ""],
        ["--jets-per-class", "10", "--classes", "t", "--dataset", "shapes"],
    ],
)
def test_cli_bad_options_exit_2(tmp_path, capsys, argv):
    assert main(["generate", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("saltjet generate: error:") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--jets-per-class", "0"], ["--jets-per-class", "5", "--workers", "0"]])
def test_cli_argparse_errors(tmp_path, argv):
    with pytest.raises(SystemExit) as e:
        main(["generate", "--out", str(tmp_path), *argv])
    assert e.value.code == 2


def test_cli_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["generate", "--out", str(target), "--jets-per-class", "1", "--no-mpi", "--quiet"]) == 2
    assert "cannot create output directory" in capsys.readouterr().err


def test_cli_generates(tmp_path, capsys):
    rc = main(["generate", "--out", str(tmp_path), "--jets-per-class", "2", "--no-mpi", "--workers", "1",
               "--jets-per-file", "4", "--seed", "2"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr()
    assert "jets/s" in printed.err
    assert len(sorted(tmp_path.glob("jetImage_*_150p_*.h5"))) == 3


@pytest.mark.slow
def test_physics_mass_peaks_and_multiplicities(tmp_path):
    paths = generate_jets(tmp_path, GenerateOptions(jets_per_class=200, seed=21), workers=2, quiet=True)
    cons, jets = read_all(paths)
    y = jets[:, LABEL_SLICE].argmax(1)
    sd = jets[:, J["j_mass_mmdt"]]
    expect = {"W": (80.4, 12), "Z": (91.2, 12), "t": (173.0, 25)}
    for name, (mass, window) in expect.items():
        m = sd[y == CLASS_NAMES.index(name)]
        near = m[np.abs(m - mass) < 2 * window]
        assert len(near) > 0.4 * len(m), name
        assert abs(np.median(near) - mass) < window, (name, np.median(near))
    mult = jets[:, J["j_multiplicity"]]
    mean = {name: mult[y == i].mean() for i, name in enumerate(CLASS_NAMES)}
    assert mean["g"] > mean["q"] and mean["t"] > mean["W"]
    assert np.median(sd[y == CLASS_NAMES.index("q")]) < 60


def test_cli_shapes_dataset(tmp_path):
    pytest.importorskip("saltjet.data.generate.shapes")
    assert main(["generate", "--dataset", "shapes", "--out", str(tmp_path), "--jets-per-class", "1", "--quiet"]) == 0
    assert len(list(tmp_path.rglob("*.off"))) >= 10
