"""Bad input for the readers: no data file runs code or leads outside itself, nothing blocks, and
every change to the data is either refused in one line or counted on the terminal.

Each file is written here. The payload cases plant an object whose unpickling creates a marker
file, in every place a supported format could carry a pickle, and check that the marker never
appears while `load` and `saltjet inspect`/`saltjet train` give one line (exit 2).
"""

from __future__ import annotations

import os
import pickle
import threading
import time
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
from published_layouts import write_hls4ml, write_quarkgluon, write_toplandscape

from saltjet.cli import main
from saltjet.data import load
from saltjet.data.hls4ml_layout import PARTICLE_FEATURES
from saltjet.data.pipeline import prepare
from saltjet.data.readers.pandas_hdf5 import pickled_strings
from saltjet.data.readers.screening import ReaderWarning
from saltjet.errors import DataError, SaltjetError

PT = PARTICLE_FEATURES.index("j1_pt")


class Payload:
    """Unpickling this creates the file `marker` (proof that a reader ran code from the file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_payload(marker) -> np.bytes_:
    return np.bytes_(pickle.dumps(Payload(marker), protocol=0))


# ----------------------------------------------------------------------------------------------
# Writers of files carrying a payload


def toplandscape_object_column_fixed(path, marker):
    """pandas "fixed" format: an object column is stored as a pickle (PyTables VLArray)."""
    df = pd.DataFrame({"E_0": [10.0, 20.0], "PX_0": [1.0, 2.0], "PY_0": [1.0, 2.0], "PZ_0": [1.0, 2.0],
                       "is_signal_new": [0, 1], "payload": [Payload(marker), Payload(marker)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' PerformanceWarning about pickling objects
        df.to_hdf(path, key="table", format="fixed")


def toplandscape_pickled_column_names(path, marker):
    """pandas "table" format: the column names of a block are a pickle in `values_block_0_kind`."""
    write_toplandscape(path, n_jets=5, n_slots=4, max_mult=3, table_format="table")
    with h5py.File(path, "r+") as f:
        f["table/table"].attrs["values_block_0_kind"] = pickled_payload(marker)


def toplandscape_pickled_frame_attribute(path, marker):
    """pandas "table" format: the frame's `non_index_axes` attribute (read by pandas) is a pickle."""
    write_toplandscape(path, n_jets=5, n_slots=4, max_mult=3, table_format="table")
    with h5py.File(path, "r+") as f:
        f["table"].attrs["non_index_axes"] = pickled_payload(marker)
        f["table/table"].attrs["values_block_0_meta"] = pickled_payload(marker)


def quarkgluon_object_array(path, marker):
    """`.npz` whose X is an object array (a pickle inside the .npy member)."""
    X = np.empty((2, 3, 4), dtype=object)
    X[...] = Payload(marker)
    np.savez(path, X=X, y=np.ones(2))


PAYLOADS = {
    "toplandscape-fixed-object-column": (toplandscape_object_column_fixed, "train.h5"),
    "toplandscape-table-pickled-names": (toplandscape_pickled_column_names, "train.h5"),
    "toplandscape-table-pickled-attribute": (toplandscape_pickled_frame_attribute, "train.h5"),
    "quarkgluon-object-array": (quarkgluon_object_array, "QG_jets.npz"),
}


def assert_one_line_cli_error(argv, capsys, command):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith(f"saltjet {command}: error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("case", list(PAYLOADS))
def test_no_reader_ever_unpickles(tmp_path, capsys, case):
    write, name = PAYLOADS[case]
    marker = tmp_path / "payload_ran"
    path = tmp_path / name
    write(path, marker)
    assert not marker.exists()  # writing did not run it
    with pytest.raises(DataError) as info:
        load(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()
    assert_one_line_cli_error(["inspect", str(path)], capsys, "inspect")
    assert not marker.exists()
    if case.startswith("toplandscape"):  # what train --data reads is the same; check it once more
        assert_one_line_cli_error(["train", "--data", str(path), "--out", str(tmp_path / "run")], capsys, "train")
        assert not marker.exists()


def test_payload_would_run_under_pandas(tmp_path):
    """The planted payloads are live: pandas' own reader runs them (so the test above can fail)."""
    marker = tmp_path / "payload_ran"
    toplandscape_pickled_column_names(tmp_path / "a.h5", marker)
    with pytest.raises(Exception):
        pd.read_hdf(tmp_path / "a.h5", key="table")
    assert marker.exists()


def test_pickled_strings_only_lists_strings():
    assert pickled_strings(np.bytes_(b"(lp0\nVE_0\np1\naVPX_0\np2\na.")) == ["E_0", "PX_0"]
    assert pickled_strings(pickle.dumps(["a", "b"], protocol=4)) == ["a", "b"]
    assert pickled_strings(b"(lp1\nS'E_0'\np2\na.") == ["E_0"]  # Python 2 pandas
    assert pickled_strings(b"N.") == []
    assert pickled_strings(pickled_payload("/nonexistent/x")) is None
    assert pickled_strings(pickle.dumps([Payload("/nonexistent/x")])) is None
    assert pickled_strings(b"category") is None and pickled_strings(b"\x80garbage") is None


# ----------------------------------------------------------------------------------------------
# HDF5 objects that point outside the file


def hls4ml_with(path, outside, how):
    """An hls4ml file whose jetConstituentList is `how` ("external", "soft", "virtual",
    "external-storage") instead of a dataset in the file; `outside` is a valid hls4ml file."""
    write_hls4ml(outside, n_jets=6)
    write_hls4ml(path, n_jets=6)
    with h5py.File(path, "r+") as f:
        del f["jetConstituentList"]
        if how == "external":
            f["jetConstituentList"] = h5py.ExternalLink(str(outside), "/jetConstituentList")
        elif how == "soft":
            f["elsewhere"] = np.zeros((6, 150, 16), dtype=np.float32)
            f["jetConstituentList"] = h5py.SoftLink("/elsewhere")
        elif how == "virtual":
            layout = h5py.VirtualLayout(shape=(6, 150, 16), dtype=np.float32)
            layout[:] = h5py.VirtualSource(str(outside), "jetConstituentList", shape=(6, 150, 16))
            f.create_virtual_dataset("jetConstituentList", layout)
        elif how == "external-storage":
            raw = outside.with_suffix(".raw")
            raw.write_bytes(np.ones((6, 150, 16), dtype=np.float32).tobytes())
            f.create_dataset("jetConstituentList", shape=(6, 150, 16), dtype=np.float32,
                             external=[(str(raw), 0, 6 * 150 * 16 * 4)])
        elif how == "references":
            f.create_dataset("jetFeatureNames_ref", data=[f["jets"].ref], dtype=h5py.ref_dtype)
            f["jetConstituentList"] = np.zeros((6, 150, 16), dtype=np.float32)
            del f["jetFeatureNames"]
            f["jetFeatureNames"] = f["jetFeatureNames_ref"]


@pytest.mark.parametrize("how, message", [("external", "ExternalLink"), ("soft", "SoftLink"),
                                          ("virtual", "outside this file"),
                                          ("external-storage", "outside this file"),
                                          ("references", "references")])
def test_hdf5_never_leads_outside_the_file(tmp_path, capsys, how, message):
    path = tmp_path / "jetImage_0_150p_0_10000.h5"
    hls4ml_with(path, tmp_path / "other.h5", how)
    with pytest.raises(DataError, match=message) as info:
        load(path, format="hls4ml")
    assert "\n" not in str(info.value)
    assert message in assert_one_line_cli_error(["inspect", str(path), "--format", "hls4ml"], capsys, "inspect")


def test_toplandscape_external_link_is_refused(tmp_path):
    write_toplandscape(tmp_path / "real.h5", n_jets=4, n_slots=4, max_mult=3, table_format="table")
    with h5py.File(tmp_path / "link.h5", "w") as f:
        f["table"] = h5py.ExternalLink(str(tmp_path / "real.h5"), "/table")
    with pytest.raises(DataError, match="ExternalLink"):
        load(tmp_path / "link.h5", format="toplandscape")


def test_declared_shape_far_beyond_the_stored_bytes_is_refused_at_once(tmp_path):
    """A corrupt or crafted shape must not make a reader loop over billions of unstored rows."""
    path = tmp_path / "jetImage_0_150p_0_10000.h5"
    write_hls4ml(path, n_jets=4)
    with h5py.File(path, "r+") as f:
        del f["jetConstituentList"], f["jets"]
        f.create_dataset("jetConstituentList", shape=(10**8, 150, 16), chunks=(1, 150, 16), dtype=np.float32)
        f.create_dataset("jets", shape=(10**8, 59), chunks=(1, 59), dtype=np.float32)
    started = time.monotonic()
    with pytest.raises(DataError, match="declares shape .* but stores only"):
        load(path, format="hls4ml")
    assert time.monotonic() - started < 5


# ----------------------------------------------------------------------------------------------
# Non-regular files: refused at once, never opened


def test_named_pipe_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "jets.h5"
    os.mkfifo(fifo)
    result = {}

    def run():
        result["code"] = main(["inspect", str(fifo)])

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=20)
    if thread.is_alive():  # blocked in open(): release it by opening the write end, then fail
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(timeout=5)
        pytest.fail("saltjet inspect blocked on a named pipe")
    err = capsys.readouterr().err.strip()
    assert result["code"] == 2 and "named pipe" in err and "\n" not in err, err
    assert time.monotonic() - started < 5
    for kwargs in ({}, {"format": "hls4ml"}, {"format": "modelnet"}):
        with pytest.raises(DataError, match="named pipe"):
            load(fifo, **kwargs)
    # in a glob or a folder the pipe is skipped, not opened
    write_quarkgluon(tmp_path / "QG_jets.npz", n_jets=5)
    assert len(load(str(tmp_path / "*"), on_nonfinite="raise")) == 5
    assert len(load(tmp_path)) == 5


def test_symlink_to_a_regular_file_is_read_and_to_a_pipe_refused(tmp_path):
    write_quarkgluon(tmp_path / "QG_jets.npz", n_jets=5)
    (tmp_path / "link.npz").symlink_to(tmp_path / "QG_jets.npz")
    assert len(load(tmp_path / "link.npz")) == 5
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "pipe_link.npz").symlink_to(tmp_path / "pipe")
    with pytest.raises(DataError, match="named pipe"):
        load(tmp_path / "pipe_link.npz")


def test_device_is_refused():
    with pytest.raises(DataError, match="device"):
        load("/dev/zero")


# ----------------------------------------------------------------------------------------------
# Silent changes become counted warnings or clear errors


def hls4ml_constituents(path, dtype=np.float32, edit=None, n_jets=8, max_mult=40):
    """An hls4ml file whose jetConstituentList is rewritten with `dtype` after `edit(cons)`."""
    t = write_hls4ml(path, n_jets=n_jets, seed=3, max_mult=max_mult)
    cons = t["constituents"].copy()
    if edit is not None:
        edit(cons)
    with h5py.File(path, "r+") as f:
        del f["jetConstituentList"]
        f["jetConstituentList"] = cons.astype(dtype)
    return t


def test_negative_pt_becomes_padding_with_a_count(tmp_path, capsys):
    path = tmp_path / "neg.h5"

    def negate(cons):
        cons[0, :3, PT] *= -1
        cons[5, 0, PT] *= -1

    t = hls4ml_constituents(path, edit=negate)
    with pytest.warns(ReaderWarning, match="treated 4 particles with negative pT as padding"):
        data = load(path)
    real = t["constituents"][..., PT] > 0
    assert data.mask[0].sum() == real[0].sum() - 3 and data.mask[5].sum() == real[5].sum() - 1
    assert main(["inspect", str(path)]) == 0
    err = capsys.readouterr().err
    assert "saltjet inspect: warning: hls4ml:" in err and "4 particles with negative pT" in err


def test_negative_energy_in_toplandscape_is_counted(tmp_path):
    path = tmp_path / "train.h5"
    t = write_toplandscape(path, n_jets=6, n_slots=10, max_mult=8, table_format="table")
    with h5py.File(path, "r+") as f:
        rows = f["table/table"][()]
        rows["values_block_0"][2, 0] *= -1  # E_0 of jet 2 (the first column of the float block)
        f["table/table"][...] = rows
    with pytest.warns(ReaderWarning, match="treated 1 particles with negative E as padding"):
        data = load(path)
    assert data.mask[2].sum() == (t["e"][2] > 0).sum() - 1


@pytest.mark.parametrize("dtype, message", [(np.int32, "integer"), (np.int64, "integer"), ("S8", "string")])
def test_non_float_kinematics_are_refused(tmp_path, capsys, dtype, message):
    path = tmp_path / "jetImage_0_150p_0_10000.h5"
    hls4ml_constituents(path, dtype=dtype)
    with pytest.raises(DataError, match=message) as info:
        load(path)
    assert "floating-point" in str(info.value) and "\n" not in str(info.value)
    assert_one_line_cli_error(["inspect", str(path)], capsys, "inspect")


def test_integer_kinematics_are_refused_in_every_format(tmp_path):
    qg = tmp_path / "QG_jets.npz"
    np.savez(qg, X=np.ones((3, 5, 4), dtype=np.int64), y=np.ones(3))
    with pytest.raises(DataError, match="integer"):
        load(qg)
    df = pd.DataFrame({"E_0": [10, 20], "PX_0": [1, 2], "PY_0": [1, 2], "PZ_0": [1, 2], "is_signal_new": [0, 1]})
    for fmt in ("table", "fixed"):
        df.to_hdf(tmp_path / f"{fmt}.h5", key="table", format=fmt)
        with pytest.raises(DataError, match="E_0 holds int64"):
            load(tmp_path / f"{fmt}.h5")


@pytest.mark.parametrize("table_format", ["table", "fixed"])
def test_string_and_categorical_columns_are_refused(tmp_path, table_format):
    path = tmp_path / "train.h5"
    df = pd.DataFrame({"E_0": [10.0, 20.0], "PX_0": [1.0, 2.0], "PY_0": [1.0, 2.0], "PZ_0": [1.0, 2.0],
                       "is_signal_new": [0, 1], "note": ["a", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df.to_hdf(path, key="table", format=table_format)
    with pytest.raises(DataError, match="note") as info:
        load(path)
    assert "\n" not in str(info.value)
    if table_format == "table":
        df.drop(columns="note").assign(c=pd.Categorical(["x", "y"])).to_hdf(path, key="table", format="table", mode="w")
        with pytest.raises(DataError, match="metadata"):
            load(path)


def test_nonfinite_real_particles_are_refused_with_a_count_or_dropped(tmp_path, capsys):
    path = tmp_path / "nan.h5"

    def spoil(cons):
        cons[1, 0, PT] = np.nan
        cons[4, 2, PARTICLE_FEATURES.index("j1_etarel")] = np.inf

    hls4ml_constituents(path, edit=spoil)
    with pytest.raises(DataError, match="2 of 8 jets hold NaN/inf") as info:
        load(path)
    assert "\n" not in str(info.value)
    err = assert_one_line_cli_error(["inspect", str(path)], capsys, "inspect")
    assert "2 of 8 jets" in err
    with pytest.warns(ReaderWarning, match="skipped 2 of 8 jets \\(2 with NaN/inf values\\)"):
        data = load(path, on_nonfinite="drop")
    assert len(data) == 6 and np.isfinite(data.x).all()
    assert main(["inspect", str(path), "--drop-nonfinite", "--json"]) == 0
    assert "skipped 2 of 8 jets" in capsys.readouterr().err
    with pytest.raises(SaltjetError, match="on_nonfinite"):
        load(path, on_nonfinite="ignore")


@pytest.mark.parametrize("writer", ["toplandscape", "quarkgluon"])
def test_nonfinite_is_refused_in_other_formats(tmp_path, writer):
    if writer == "toplandscape":
        path = tmp_path / "val.h5"
        write_toplandscape(path, n_jets=6, n_slots=10, max_mult=8, nan_jet=2, table_format="table")
    else:
        path = tmp_path / "QG_jets.npz"
        t = write_quarkgluon(path, n_jets=6)
        X = t["X"].copy()
        X[3, 0, 1] = np.inf
        np.savez(path, X=X, y=t["y"])
    with pytest.raises(DataError, match="1 of 6 jets hold NaN/inf"):
        load(path)
    with pytest.warns(ReaderWarning, match="1 with NaN/inf"):
        assert len(load(path, on_nonfinite="drop")) == 5


def test_truncation_is_counted_by_the_reader_and_the_pipeline(tmp_path):
    path = tmp_path / "jetImage_0_150p_0_10000.h5"
    t = write_hls4ml(path, n_jets=10, seed=4, max_mult=120)
    mult = (t["constituents"][..., PT] > 0).sum(1)
    with pytest.warns(ReaderWarning, match=f"truncated {(mult > 50).sum()} jets to their 50 highest-pT"):
        load(path, n_particles=50)
    data = load(path)
    with pytest.warns(UserWarning, match=f"truncated {(mult > 30).sum()} of 10 jets to their first 30"):
        _, stats = prepare(data, n_particles=30)
    assert stats.n_truncated == (mult > 30).sum()
