"""Reader registry: one module per published data format, imported lazily.

Each reader module defines
    FORMAT                      its name, as used by `saltjet.data.load(..., format=NAME)`;
    sniff(path) -> bool         a cheap content check (magic bytes, dataset or branch names) used by
                                format="auto"; never raises, never reads the bulk data;
    read(paths, *, max_jets, n_particles, features, quiet, on_nonfinite, labels, **options)
                                -> `ParticleData`, paths a sorted list of files (or folders, for
                                formats stored as folders). Every reader takes these common
                                keywords (`saltjet.data.load` passes them all, unchanged); one that
                                does not apply is refused with a one-line `ConfigError` when set
                                (ModelNet: `features`) or has no effect there (ModelNet:
                                `on_nonfinite`, `labels`). Format options follow (e.g. chunk_size,
                                split); an unknown one is a `ConfigError` (`screening.refuse_options`).

Heavy dependencies (pandas, uproot, awkward, trimesh) are imported inside the readers, so listing
formats or sniffing costs nothing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from saltjet.errors import ConfigError

# format name -> module; the order is the order in which format="auto" sniffs.
READERS = {
    "hls4ml": "saltjet.data.readers.hls4ml",
    "toplandscape": "saltjet.data.readers.toplandscape",
    "quarkgluon": "saltjet.data.readers.quarkgluon",
    "jetclass": "saltjet.data.readers.jetclass",
    "modelnet": "saltjet.data.readers.modelnet",
}


def list_formats() -> list[str]:
    """Names of the registered formats."""
    return list(READERS)


def get_reader(name: str) -> ModuleType:
    """The reader module of format `name`; `ConfigError` for an unknown name or a missing extra."""
    if name not in READERS:
        raise ConfigError(f"unknown data format {name!r}; choose from auto, {', '.join(READERS)}")
    try:
        return importlib.import_module(READERS[name])
    except ImportError as e:
        raise ConfigError(f"the {name} reader cannot be imported ({e}); "
                          "install the optional readers with: pip install 'saltjet[formats]'") from None


__all__ = ["READERS", "get_reader", "list_formats"]
