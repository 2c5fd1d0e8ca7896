"""File checks shared by the readers: existence, magic bytes, one-line error text."""

from __future__ import annotations

from pathlib import Path

from saltjet.errors import DataError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ROOT_MAGIC = b"root"
ZIP_MAGIC = b"PK\x03\x04"


def require_file(path, fmt: str) -> Path:
    """`path` as a Path; `DataError` if it is missing, a folder or empty."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file (the {fmt} reader reads files)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    return path


def starts_with(path, magic: bytes) -> bool:
    """True if the file at `path` begins with `magic`; False for folders and unreadable files."""
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
