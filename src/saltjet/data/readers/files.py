"""File checks shared by the readers: existence, magic bytes, one-line error text, and HDF5 access
that stays inside the file.

No reader unpickles or executes anything from a data file: HDF5 is read with h5py only (which never
unpickles), `.npz` with `allow_pickle=False`, and every HDF5 object a reader touches must be a
dataset stored in the file itself (`hdf5_dataset`): links (soft or external), virtual datasets,
external raw storage and object/reference dtypes are refused with one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from saltjet.errors import DataError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ROOT_MAGIC = b"root"
ZIP_MAGIC = b"PK\x03\x04"
# A dataset may declare at most MAX_EXPANSION times the bytes it stores (deflate tops out near
# 1,032:1), with MIN_STORED_BYTES of slack: a corrupt shape must not make a reader loop over
# billions of unstored rows.
MAX_EXPANSION = 1100
MIN_STORED_BYTES = 1 << 16


def file_kind(path) -> str:
    """"file", "folder" or what else `path` is ("named pipe", "socket", "device", "missing"),
    following symlinks, without opening it (opening a named pipe would block)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "missing"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "named pipe"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file"


def require_regular(path) -> Path:
    """`path` as a Path; `DataError` unless it is (a symlink to) a regular file or a folder."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "missing":
        raise DataError(f"{path}: no such file or folder")
    if kind not in ("file", "folder"):
        raise DataError(f"{path}: is a {kind}, not a regular file or folder; refusing to read it")
    return path


def require_file(path, fmt: str) -> Path:
    """`path` as a Path; `DataError` if it is missing, not a regular file, or empty."""
    path = require_regular(path)
    if file_kind(path) != "file":
        raise DataError(f"{path}: not a file (the {fmt} reader reads files)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    return path


def starts_with(path, magic: bytes) -> bool:
    """True if the file at `path` begins with `magic`; False for folders, unreadable files and
    anything that is not a regular file (never opens a named pipe)."""
    if file_kind(path) != "file":
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(len(magic)) == magic
    except OSError:
        return False


def one_line(error: BaseException) -> str:
    """The first line of an exception's message, for wrapping library errors in a `DataError`."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def decode_names(values) -> list[str]:
    """Byte or str names (e.g. an HDF5 string dataset) as a list of str."""
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def open_hdf5(path: Path):
    """`h5py.File` opened read-only; `DataError` for a file that is not (readable) HDF5."""
    import h5py

    if not starts_with(path, HDF5_MAGIC):
        raise DataError(f"{path}: not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except Exception as e:
        raise DataError(f"{path}: cannot open HDF5 file (truncated or corrupt?): {one_line(e)}") from None


def hdf5_stored_object(f, name: str, path: Path):
    """The object at `name` ("a/b") if every step of the path is a hard link, else None if it is
    missing; `DataError` for a soft or external link (never followed: it may point outside the file,
    or at a named pipe)."""
    import h5py

    node = f
    for part in name.strip("/").split("/"):
        if not isinstance(node, h5py.Group):
            return None
        try:
            link = node.get(part, getlink=True)
        except Exception as e:
            raise DataError(f"{path}: cannot read HDF5 object {name!r} (corrupt file?): {one_line(e)}") from None
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise DataError(f"{path}: {name!r} is a {type(link).__name__}, not data stored in this file; "
                            "refusing to follow it")
        try:
            node = node[part]
        except Exception as e:
            raise DataError(f"{path}: cannot read HDF5 object {name!r} (corrupt file?): {one_line(e)}") from None
    return node


def hdf5_dataset(f, name: str, path: Path, required: bool = True, objects_ok: bool = False):
    """The dataset `name`, stored in this file with plain (non-object) values.

    Returns None if it is missing and not `required`. `DataError` for a missing required dataset, a
    group, a link, a virtual dataset or external storage (data outside the file), and object
    dtypes other than strings (references, variable-length arrays; unless `objects_ok`, for a caller
    that refuses them with a more precise message). Nothing is read from the dataset here; readers
    check that bulk data are numeric (`require_float`, `require_numeric`).
    """
    import h5py

    obj = hdf5_stored_object(f, name, path)
    if obj is None:
        if required:
            raise DataError(f"{path}: no dataset {name!r}")
        return None
    if not isinstance(obj, h5py.Dataset):
        raise DataError(f"{path}: {name!r} is not a dataset")
    try:
        outside = obj.is_virtual or bool(obj.external)
        dtype, size = obj.dtype, obj.size
        stored = obj.id.get_storage_size()
    except Exception as e:  # e.g. a corrupt type description
        raise DataError(f"{path}: cannot read dataset {name!r} (corrupt file?): {one_line(e)}") from None
    if outside:
        raise DataError(f"{path}: dataset {name!r} keeps its values outside this file "
                        "(virtual or external storage); refusing to read it")
    if dtype.kind == "O" and not objects_ok and not h5py.check_string_dtype(dtype):
        raise DataError(f"{path}: dataset {name!r} holds references or variable-length objects "
                        f"({dtype}), not numbers")
    declared = float(size) * dtype.itemsize
    if declared > MAX_EXPANSION * max(stored, MIN_STORED_BYTES):
        raise DataError(f"{path}: dataset {name!r} declares shape {obj.shape} ({declared:.3g} bytes) but stores "
                        f"only {stored} bytes (corrupt file?)")
    return obj


def require_float(dset, name: str, path: Path, what: str) -> None:
    """`DataError` unless `dset` (an h5py dataset or numpy array) holds floating-point numbers:
    kinematics stored as integers, strings or objects cannot mean what the readers compute."""
    kind = dset.dtype.kind
    if kind == "f":
        return
    kinds = {"i": "integer", "u": "integer", "b": "boolean", "S": "string", "U": "string", "O": "object",
             "V": "compound", "c": "complex"}
    raise DataError(f"{path}: {name} has {kinds.get(kind, 'non-float')} values ({dset.dtype}); "
                    f"{what} must be floating-point numbers")


def require_numeric(dset, name: str, path: Path) -> None:
    """`DataError` unless `dset` holds numbers or booleans (labels may be integers)."""
    if dset.dtype.kind not in "fiub":
        raise DataError(f"{path}: {name} holds {dset.dtype} values, expected numbers")
