"""The built-in jet data set: balanced g/q/W/Z/t jets from Pythia 8 in hls4ml files, in parallel.

Work is cut into chunks of `chunk_jets` jets of one class; chunk j of class c gets its own Pythia
seed derived from (seed, c, j), so the jets do not depend on the number of worker processes.
`--shard I/K` (0 ≤ I < K) makes the chunks j with j % K == I of every class: the K shards
together hold exactly the jets of the unsharded run, and each shard is balanced. `classes` picks a
subset of the five classes (e.g. only t, to add top jets for top vs QCD): its chunks keep the seeds
they have in the full run, so a subset run makes the full run's jets of those classes (never read
a subset run together with a full run of the same seed: those jets would be there twice). A shard's jets
are shuffled with a generator seeded by (seed, I, K) and written as files of `jets_per_file`:
`jetImage_<I>_150p_<start>_<stop>.h5`, next to `generate_manifest_<I>of<K>.json`.

Workers are spawned processes: a script that calls `generate_jets`/`ensure_dataset` with more
than one worker needs the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from saltjet.data.hls4ml_layout import CLASS_NAMES, JETS_PER_FILE, N_SLOTS
from saltjet.errors import ConfigError, DataError

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of one generation run (they decide the output bytes, except `workers`/`quiet`)."""

    jets_per_class: int
    seed: int = 0
    mpi: bool = True
    jets_per_file: int = JETS_PER_FILE
    chunk_jets: int = 500
    shard: int = 0
    n_shards: int = 1
    full_substructure: bool = False
    classes: tuple[str, ...] | None = None  # None: all five, in hls4ml order

    def class_indices(self) -> list[int]:
        """The hls4ml label indices of the classes to make, in label order."""
        if self.classes is None:
            return list(range(len(CLASS_NAMES)))
        return sorted(CLASS_NAMES.index(name) for name in self.classes)

    def validate(self) -> None:
        if self.classes is not None:
            unknown = [name for name in self.classes if name not in CLASS_NAMES]
            if unknown or not self.classes or len(set(self.classes)) != len(self.classes):
                raise ConfigError(
                    f"classes must be distinct names from {', '.join(CLASS_NAMES)}, got {', '.join(self.classes) or 'none'}"
                )
        for name in ("jets_per_class", "jets_per_file", "chunk_jets", "n_shards"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ConfigError(f"seed must be ≥ 0, got {self.seed}")
        if not 0 <= self.shard < self.n_shards:
            raise ConfigError(f"shard index must be in 0..{self.n_shards - 1}, got {self.shard}/{self.n_shards}")
        n_chunks = -(-self.jets_per_class // self.chunk_jets)
        if self.n_shards > n_chunks:
            raise ConfigError(
                f"{self.n_shards} shards but only {n_chunks} chunks of {self.chunk_jets} jets per class"
            )

    def manifest_settings(self) -> dict:
        settings = asdict(self)
        if self.classes is None:  # all classes: the settings of manifests written before `classes`
            del settings["classes"]
        else:
            settings["classes"] = [CLASS_NAMES[c] for c in self.class_indices()]
        return settings


def parse_shard(text: str) -> tuple[int, int]:
    """'I/K' -> (I, K) with 0 ≤ I < K; `ConfigError` otherwise."""
    try:
        i, k = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"shard must look like I/K (e.g. 0/4), got {text!r}") from None
    if k < 1 or not 0 <= i < k:
        raise ConfigError(f"shard I/K needs 0 ≤ I < K, got {text!r}")
    return i, k


@dataclass(frozen=True)
class Chunk:
    class_index: int
    chunk_index: int
    n_jets: int
    seed: int
    mpi: bool
    full_substructure: bool


def plan_chunks(opts: GenerateOptions) -> list[Chunk]:
    """The shard's chunks, chunk-major then class, so early progress covers every class."""
    from saltjet.data.generate.pythia import pythia_seed

    n_chunks = -(-opts.jets_per_class // opts.chunk_jets)
    chunks = []
    for j in range(opts.shard, n_chunks, opts.n_shards):
        size = min(opts.chunk_jets, opts.jets_per_class - j * opts.chunk_jets)
        for c in opts.class_indices():
            chunks.append(Chunk(c, j, size, pythia_seed(opts.seed, c, j), opts.mpi, opts.full_substructure))
    return chunks


def run_chunk(chunk: Chunk) -> dict:
    """Worker entry point (top level, spawn-safe): generate one chunk and build its hls4ml arrays."""
    from saltjet.data.generate.hls4ml_writer import hls4ml_arrays
    from saltjet.data.generate.pythia import generate_class_jets

    t0 = time.perf_counter()
    sample = generate_class_jets(chunk.class_index, chunk.n_jets, chunk.seed, chunk.mpi)
    constituents, jets = hls4ml_arrays(sample, chunk.class_index, chunk.full_substructure)
    return {
        "chunk": chunk,
        "constituents": constituents,
        "jets": jets,
        "n_events": sample.n_events,
        "n_truncated": int(np.sum(sample.counts > N_SLOTS)),
        "seconds": time.perf_counter() - t0,
    }


def _run_all(chunks: list[Chunk], workers: int, quiet: bool) -> list[dict]:
    from tqdm import tqdm

    total = sum(c.n_jets for c in chunks)
    results: dict[tuple[int, int], dict] = {}
    with tqdm(total=total, unit="jet", desc="generating jets", file=sys.stderr, disable=quiet, smoothing=0.1) as bar:
        if workers <= 1:
            for chunk in chunks:
                r = run_chunk(chunk)
                results[(chunk.chunk_index, chunk.class_index)] = r
                bar.update(chunk.n_jets)
        else:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(workers) as pool:
                for r in pool.imap_unordered(run_chunk, chunks):
                    c = r["chunk"]
                    results[(c.chunk_index, c.class_index)] = r
                    bar.update(c.n_jets)
    return [results[(c.chunk_index, c.class_index)] for c in chunks]


def manifest_path(out_dir: Path, shard: int = 0, n_shards: int = 1) -> Path:
    return Path(out_dir) / f"generate_manifest_{shard}of{n_shards}.json"


def generate_jets(out_dir, opts: GenerateOptions, workers: int | None = None, quiet: bool = False) -> list[Path]:
    """Generate the shard's jets into `out_dir` in the hls4ml layout; returns the file paths.

    workers: processes (default: all cores); the files do not depend on it.
    """
    from saltjet import __version__
    from saltjet.extras import check_extras, require

    check_extras("gen", purpose="generating jets")  # here, not in the worker processes
    fastjet = require("fastjet", extra="gen")
    pythia8mc = require("pythia8mc", extra="gen")
    from saltjet.data.generate.hls4ml_writer import write_hls4ml_file
    from saltjet.data.generate.substructure import not_computed

    opts.validate()
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ConfigError(f"workers must be ≥ 1, got {workers}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"cannot create output directory {out_dir}: {e.strerror}") from None

    chunks = plan_chunks(opts)
    workers = min(workers, len(chunks))
    t0 = time.perf_counter()
    results = _run_all(chunks, workers, quiet)
    wall = time.perf_counter() - t0

    constituents = np.concatenate([r["constituents"] for r in results])
    jets = np.concatenate([r["jets"] for r in results])
    perm = np.random.default_rng([opts.seed, opts.shard, opts.n_shards]).permutation(len(jets))
    skipped = not_computed(opts.full_substructure)
    attrs = {
        "generator": f"saltjet {__version__} (Pythia {pythia8mc.__version__ if hasattr(pythia8mc, '__version__') else '8.317'}, FastJet {fastjet.__version__})",
        "settings": json.dumps(opts.manifest_settings()),
        "not_computed_jet_features": json.dumps(skipped),
        "jet_images": "not written",
    }
    paths = []
    for start in range(0, len(perm), opts.jets_per_file):
        idx = perm[start : start + opts.jets_per_file]
        path = out_dir / f"jetImage_{opts.shard}_{N_SLOTS}p_{start}_{start + len(idx)}.h5"
        write_hls4ml_file(path, constituents[idx], jets[idx], attrs)
        paths.append(path)

    n_jets = len(jets)
    per_class = {}
    for c in opts.class_indices():
        name = CLASS_NAMES[c]
        rs = [r for r in results if r["chunk"].class_index == c]
        cpu = sum(r["seconds"] for r in rs)
        n = sum(r["chunk"].n_jets for r in rs)
        per_class[name] = {
            "jets": n,
            "events": sum(r["n_events"] for r in rs),
            "truncated_to_150": sum(r["n_truncated"] for r in rs),
            "jets_per_cpu_second": round(n / cpu, 2) if cpu else None,
        }
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": "saltjet-generated-hls4ml-jets",
        "settings": opts.manifest_settings(),
        "files": [p.name for p in paths],
        "n_jets": n_jets,
        "class_names": CLASS_NAMES,
        "classes": per_class,
        "not_computed_jet_features": skipped,
        "workers": workers,
        "wall_seconds": round(wall, 2),
        "jets_per_second": round(n_jets / wall, 2),
    }
    mpath = manifest_path(out_dir, opts.shard, opts.n_shards)
    mpath.write_text(json.dumps(manifest, indent=1) + "\n")
    if not quiet:
        print(
            f"{n_jets} jets in {wall:.1f} s: {n_jets / wall:.1f} jets/s with {workers} worker(s); "
            f"{len(paths)} file(s) in {out_dir}",
            file=sys.stderr,
        )
    return paths


def ensure_dataset(
    out_dir, jets_per_class: int, seed: int = 0, workers: int | None = None, quiet: bool = False, mpi: bool = True,
    jets_per_file: int = JETS_PER_FILE,
) -> list[Path]:  # fmt: skip
    """The built-in data set in `out_dir`, made on first use and cached.

    Generates only if `out_dir` does not already hold a complete unsharded set made with the same
    settings (checked through its manifest and the listed files). Returns the hls4ml file paths.
    """
    opts = GenerateOptions(jets_per_class=jets_per_class, seed=seed, mpi=mpi, jets_per_file=jets_per_file)
    existing = cached_files(out_dir, opts)
    if existing is not None:
        return existing
    return generate_jets(out_dir, opts, workers=workers, quiet=quiet)


def cached_files(out_dir, opts: GenerateOptions) -> list[Path] | None:
    """The files of a complete data set with exactly these settings in `out_dir`, else None."""
    mpath = manifest_path(Path(out_dir), opts.shard, opts.n_shards)
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("manifest_version") != MANIFEST_VERSION or manifest.get("settings") != opts.manifest_settings():
        return None
    paths = [Path(out_dir) / name for name in manifest.get("files", [])]
    if not paths or not all(p.is_file() for p in paths):
        return None
    return paths
