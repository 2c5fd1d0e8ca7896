"""Fuzzing the readers: seeded truncations and bit flips of small valid files of every format.

Every variant must give either a correct read (finite values, the right shapes, labels in range)
or a one-line `SaltjetError`: never another exception, a hang or NaN.
"""

from __future__ import annotations

import signal
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from published_layouts import write_hls4ml, write_quarkgluon, write_toplandscape

from saltjet.data import load
from saltjet.errors import SaltjetError

VARIANTS = 50  # per format
SECONDS_PER_READ = 10
HEAD_BYTES = 4096  # half of the bit flips land here, where the layouts keep their metadata


def write_modelnet_off(path, seed):
    rng = np.random.default_rng(seed)
    vertices = rng.normal(size=(12, 3))
    faces = rng.integers(0, 12, size=(16, 3))
    lines = ["OFF", f"{len(vertices)} {len(faces)} 0"]
    lines += [" ".join(f"{v:.5f}" for v in row) for row in vertices]
    lines += ["3 " + " ".join(map(str, row)) for row in faces]
    path.write_text("\n".join(lines) + "\n")


def write_jetclass_small(path, seed):
    from published_layouts import write_jetclass

    write_jetclass(path, n_jets=8, seed=seed, max_mult=12)


# name -> (file name, writer(path, seed), format, slots per jet or None for "the file's")
FORMATS = {
    "hls4ml": ("jetImage_0_150p_0_10000.h5",
               lambda p, s: write_hls4ml(p, n_jets=8, seed=s, n_slots=20, max_mult=15, images=False), "hls4ml"),
    "toplandscape-table": ("train.h5",
                           lambda p, s: write_toplandscape(p, n_jets=8, seed=s, n_slots=10, max_mult=8,
                                                           table_format="table"), "toplandscape"),
    "toplandscape-fixed": ("train.h5",
                           lambda p, s: write_toplandscape(p, n_jets=8, seed=s, n_slots=10, max_mult=8,
                                                           table_format="fixed"), "toplandscape"),
    "quarkgluon": ("QG_jets.npz", lambda p, s: write_quarkgluon(p, n_jets=8, seed=s, n_slots=12, max_mult=10),
                   "quarkgluon"),
    "jetclass": ("jets.root", write_jetclass_small, "jetclass"),
    "modelnet": ("chair_0001.off", write_modelnet_off, "modelnet"),
}


@contextmanager
def time_limit(seconds: int):
    """Raise TimeoutError if the body runs longer than `seconds` (a hang)."""

    def expire(signum, frame):
        raise TimeoutError(f"read took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """A truncation (1 in 3) or 1-8 bit flips, half of them in the first HEAD_BYTES."""
    if rng.random() < 1 / 3:
        return data[: int(rng.integers(0, len(data)))]
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        limit = min(len(out), HEAD_BYTES) if rng.random() < 0.5 else len(out)
        out[int(rng.integers(0, limit))] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def check_read(path, fmt: str) -> str:
    """Load `path`; "read" for a correct read, "error" for a one-line SaltjetError."""
    try:
        with warnings.catch_warnings(), time_limit(SECONDS_PER_READ):
            warnings.simplefilter("ignore")
            data = load(path, format=fmt, quiet=True)
    except SaltjetError as e:
        message = str(e)
        assert message and "\n" not in message, f"multi-line error: {message!r}"
        return "error"
    n_features = 3
    assert data.x.ndim == 3 and data.x.shape[2] == n_features and len(data) > 0
    assert data.mask.shape == data.x.shape[:2] and data.y.shape == (len(data),)
    assert np.isfinite(data.x).all(), "NaN/inf in a read that did not fail"
    assert (data.x[~data.mask] == 0).all()
    assert 0 <= data.y.min() and data.y.max() < len(data.class_names)
    return "read"


@pytest.mark.parametrize("name", list(FORMATS))
def test_mutated_files_read_correctly_or_fail_in_one_line(tmp_path, name):
    file_name, write, fmt = FORMATS[name]
    if fmt == "jetclass":
        pytest.importorskip("uproot")
    valid = tmp_path / file_name
    write(valid, 0)
    assert check_read(valid, fmt) == "read"
    original = valid.read_bytes()
    rng = np.random.default_rng(sum(map(ord, name)))  # seeded per format, stable across runs
    outcomes = []
    for k in range(VARIANTS):
        variant = tmp_path / f"v{k}" / file_name
        variant.parent.mkdir()
        variant.write_bytes(mutate(original, rng))
        try:
            outcomes.append(check_read(variant, fmt))
        except AssertionError as e:
            raise AssertionError(f"{name} variant {k}: {e}") from None
        except Exception as e:  # anything but a SaltjetError is a bug
            raise AssertionError(f"{name} variant {k}: {type(e).__name__}: {e}") from e
    assert "error" in outcomes  # the mutations do reach the readers' checks
