"""Numeric columns of a pandas HDF5 DataFrame, read with h5py only: nothing is ever unpickled.

pandas (through PyTables) pickles parts of what it writes, and `pd.read_hdf`/`HDFStore.select`
unpickle them on read, so a crafted file runs code. This module reads the two pandas layouts
directly:

- "table" (`format="table"`, the published Top Tagging Landscape files): a compound dataset
  `/KEY/table` with fields `index`, `values_block_K` (one (k,) sub-array per block of columns of
  one dtype) and one scalar field per data column. A field's column names are in its attribute
  `FIELD_kind`, a protocol-0 pickle of a list of str. Those names are recovered with
  `pickletools.genops`, which only lists the pickle's opcodes: any opcode other than list, string
  and memo bookkeeping (e.g. a global lookup or a call) refuses the file.
- "fixed" (`format="fixed"`): `/KEY/blockK_items` (column names, byte strings) and
  `/KEY/blockK_values` (N, k) per block.

Only numeric blocks are accepted. Object columns (stored as pickles), string columns, categorical
columns (pandas metadata) and multi-level columns are refused with one line.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from saltjet.data.readers.files import decode_names, hdf5_dataset, hdf5_stored_object, one_line
from saltjet.errors import DataError

PANDAS_TYPES = {"frame_table": "table", "frame": "fixed"}

# opcodes that can only build lists/tuples of strings (no lookups, no calls)
_SAFE_OPCODES = {
    "PROTO", "FRAME", "STOP", "MARK", "LIST", "EMPTY_LIST", "APPEND", "APPENDS", "TUPLE", "EMPTY_TUPLE",
    "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "NONE",
    "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
}
_STRING_OPCODES = _SAFE_OPCODES - {"PROTO", "FRAME", "STOP", "MARK", "LIST", "EMPTY_LIST", "APPEND",
                                   "APPENDS", "TUPLE", "EMPTY_TUPLE", "PUT", "BINPUT", "LONG_BINPUT",
                                   "MEMOIZE", "NONE"}


def pickled_strings(raw) -> list[str] | None:
    """The strings of a pickled list of str, WITHOUT unpickling; None if `raw` is anything else.

    Args:
        raw: bytes (e.g. b"(lp0\\nVE_0\\np1\\na.", how pandas stores column names).
    Returns:
        The strings in order, or None if the pickle holds any opcode outside lists, strings and memo
        bookkeeping, or is malformed.
    """
    if isinstance(raw, np.ndarray) and raw.shape == ():
        raw = raw.item()
    if isinstance(raw, str):
        raw = raw.encode("latin-1", "replace")
    if not isinstance(raw, (bytes, np.bytes_)):
        return None
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(bytes(raw)):
            if opcode.name not in _SAFE_OPCODES:
                return None
            if opcode.name in _STRING_OPCODES:
                strings.append(arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg))
    except Exception:  # malformed pickle text
        return None
    return strings


def _attr_text(attrs, name: str) -> str | None:
    """A plain-text attribute as str (None if absent)."""
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, np.bytes_)) else str(value)


@dataclass
class _Block:
    """One stored block of columns: `names`, and how to read rows as an (c, k) array."""

    names: list[str]
    dataset: object
    dtype: np.dtype
    field: str | None = None  # table format: the compound field
    transposed: bool = True  # fixed format: rows along axis 0

    def read(self, start: int, stop: int, rows: dict) -> np.ndarray:
        """Rows [start, stop) as (c, k); `rows` caches whole compound rows per dataset (reading
        every field at once is several times faster than reading one field of a table)."""
        if self.field is not None:
            if id(self.dataset) not in rows:
                rows[id(self.dataset)] = self.dataset[start:stop]
            values = rows[id(self.dataset)][self.field]
        elif self.transposed:
            values = self.dataset[start:stop]
        else:
            values = self.dataset[:, start:stop].T
        values = np.ascontiguousarray(values)  # a field of compound rows is a strided view
        return values.reshape(len(values), -1)


@dataclass
class PandasFrame:
    """The numeric columns of one pandas DataFrame stored in an HDF5 file.

    Attributes:
        layout: "table" or "fixed".
        n_rows: number of rows N.
        columns: column name -> (block index, position in the block).
    """

    layout: str
    n_rows: int
    blocks: list[_Block] = field(default_factory=list)
    columns: dict[str, tuple[int, int]] = field(default_factory=dict)

    def dtype(self, name: str) -> np.dtype:
        """The stored dtype of column `name`."""
        return self.blocks[self.columns[name][0]].dtype

    def read(self, names: list[str], start: int, stop: int, path: Path) -> np.ndarray:
        """Rows [start, stop) of the columns `names`, as a (c, len(names)) float64 array; each
        block is read once."""
        out = np.empty((stop - start, len(names)), dtype=np.float64)
        wanted: dict[int, list[tuple[int, int]]] = {}
        for j, name in enumerate(names):
            b, k = self.columns[name]
            wanted.setdefault(b, []).append((j, k))
        rows: dict = {}
        for b, pairs in wanted.items():
            try:
                values = self.blocks[b].read(start, stop, rows)
            except Exception as e:
                raise DataError(f"{path}: cannot read rows {start}..{stop} (truncated or corrupt file?): "
                                f"{one_line(e)}") from None
            if values.shape != (stop - start, len(self.blocks[b].names)):
                raise DataError(f"{path}: column block {b} has shape {values.shape}, expected "
                                f"{(stop - start, len(self.blocks[b].names))}")
            js, ks = zip(*pairs)
            taken = np.take(values, ks, axis=1)  # (c, len(pairs)); far faster than 2-D fancy indexing
            if js == tuple(range(js[0], js[0] + len(js))):
                out[:, js[0]:js[0] + len(js)] = taken
            else:
                out[:, list(js)] = taken
        return out


def pandas_layout(f, key: str) -> str | None:
    """"table" or "fixed" if `key` is a pandas DataFrame group stored in `f`, else None; never
    follows links and never raises."""
    import h5py

    try:
        link = f.get(key, getlink=True)
        if not isinstance(link, h5py.HardLink):
            return None
        group = f[key]
        if not isinstance(group, h5py.Group):
            return None
        return PANDAS_TYPES.get(_attr_text(group.attrs, "pandas_type") or "")
    except Exception:  # an unreadable object is simply not a pandas frame
        return None


def _check_numeric(dtype: np.dtype, names: list[str], path: Path) -> None:
    base = dtype.base if dtype.subdtype is None else dtype.subdtype[0]
    if base.kind not in "fiub":
        what = "pickled Python objects" if base.kind in "OV" else f"{base} values (strings?)"
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise DataError(f"{path}: column(s) {shown} hold {what}; only numeric columns are read "
                        "(object columns would be unpickled, which can run code)")


def _table_blocks(f, key: str, path: Path) -> tuple[int, list[_Block]]:
    table = hdf5_dataset(f, f"{key}/table", path)
    fields = table.dtype.fields
    if not fields or "index" not in fields:
        raise DataError(f"{path}: /{key}/table is not a pandas table (no compound fields)")
    blocks = []
    for name in table.dtype.names:
        if name == "index":
            continue
        names = pickled_strings(table.attrs.get(f"{name}_kind"))
        if not names:
            raise DataError(f"{path}: column names of block {name!r} are missing or not a plain "
                            "list of strings (refusing to unpickle them)")
        meta = table.attrs.get(f"{name}_meta")
        if meta is not None and pickled_strings(meta) != []:
            raise DataError(f"{path}: columns {', '.join(names[:3])} carry pandas metadata "
                            f"({_attr_text(table.attrs, f'{name}_meta')!r}: categorical or string); "
                            "only plain numeric columns are read")
        dtype = fields[name][0]
        _check_numeric(dtype, names, path)
        width = int(np.prod(dtype.shape)) if dtype.shape else 1
        if width != len(names):
            raise DataError(f"{path}: block {name!r} has {width} columns but {len(names)} names")
        blocks.append(_Block(names, table, dtype.base, field=name))
    return len(table), blocks


def _fixed_blocks(f, key: str, path: Path) -> tuple[int, list[_Block]]:
    group = f[key]
    try:
        n_blocks = int(group.attrs.get("nblocks", 0))
    except (TypeError, ValueError):
        n_blocks = 0
    if n_blocks < 1 or n_blocks > 10_000:
        raise DataError(f"{path}: /{key} is not a pandas DataFrame with column blocks")
    blocks, n_rows = [], None
    for b in range(n_blocks):
        if _attr_text(group.attrs, f"block{b}_items_variety") not in (None, "regular"):
            raise DataError(f"{path}: multi-level columns are not supported")
        items = hdf5_dataset(f, f"{key}/block{b}_items", path)
        values = hdf5_dataset(f, f"{key}/block{b}_values", path, objects_ok=True)  # refused below, by name
        if items.dtype.kind not in "SU" or items.ndim != 1:
            raise DataError(f"{path}: column names of block {b} are not strings ({items.dtype})")
        names = decode_names(items[()])
        _check_numeric(values.dtype, names, path)
        transposed = bool(np.asarray(values.attrs.get("transposed", 1)).all())
        shape = values.shape if transposed else values.shape[::-1]
        if values.ndim != 2 or shape[1] != len(names):
            raise DataError(f"{path}: block {b} has shape {values.shape} for {len(names)} columns")
        if n_rows is not None and shape[0] != n_rows:
            raise DataError(f"{path}: column blocks have different row counts ({shape[0]} vs {n_rows})")
        n_rows = shape[0]
        blocks.append(_Block(names, values, values.dtype, transposed=transposed))
    return n_rows, blocks


def open_frame(f, key: str, path: Path) -> PandasFrame:
    """The numeric columns of the DataFrame stored under `key`; `DataError` for anything else."""
    layout = pandas_layout(f, key)
    if layout is None:
        if hdf5_stored_object(f, key, path) is None:
            raise DataError(f"{path}: no pandas key {key!r}")
        raise DataError(f"{path}: /{key} is not a pandas DataFrame (pandas_type frame or frame_table)")
    try:
        n_rows, blocks = (_table_blocks if layout == "table" else _fixed_blocks)(f, key, path)
    except DataError:
        raise
    except Exception as e:  # corrupt metadata: h5py or numpy errors
        raise DataError(f"{path}: cannot read the pandas layout of /{key} (corrupt file?): {one_line(e)}") from None
    frame = PandasFrame(layout, int(n_rows), blocks)
    for b, block in enumerate(blocks):
        for k, name in enumerate(block.names):
            if name in frame.columns:
                raise DataError(f"{path}: column {name!r} appears twice")
            frame.columns[name] = (b, k)
    return frame
