"""Copy a finished study run into the package as a shipped model, with its model card.

    python -m saltjet.pretrained.ship --study reports/compare --task 5class --run salt [--seed 0]
                                      [--name salt-5class]

The run folder keeps what `Tagger.from_run` needs (`config.yaml`, `model.safetensors`) and the
record of its training (`summary.json`, `metrics.csv`); `MODEL_CARD.md` is written from the study's
`results.json`: data, command and schedule, held-out metrics next to the physics floor, cost. Every
number on the card is read from those files: nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
from pathlib import Path

from saltjet.errors import ConfigError
from saltjet.pretrained import CARD_FILE, PRETRAINED_DIR, SUMMARY_PREFIX

SHIPPED_FILES = ("config.yaml", "model.safetensors", "summary.json", "metrics.csv")
LABELS = {"salt": "SAL-T", "salt_pair": "SAL-T-pair", "linformer": "Linformer", "transformer": "Transformer",
          "transformer_pair": "Transformer-pair"}


def find_run(results: dict, task: str, run: str, seed: int) -> dict:
    """The row of `results["runs"]` for (task, run, seed); `ConfigError` when the study has none."""
    for row in results.get("runs", []):
        if row.get("task") == task and row.get("run") == run and row.get("seed") == seed:
            return row
    raise ConfigError(f"the study has no finished run {run!r} for task {task!r} and seed {seed}")


def find_floor(results: dict, task: str) -> dict | None:
    rows = [r for r in results.get("floor", []) if r.get("task") == task]
    return rows[0] if rows else None


def model_card(name: str, results: dict, row: dict, floor: dict | None, summary: dict) -> str:
    """MODEL_CARD.md text for the shipped run `row` of study `results`."""
    m = row["metrics"]
    label = row.get("label") or LABELS.get(row["model"], row["model"])
    task = row["task"]
    n_test = results["tasks"][task]["n_test"]
    versus = ""
    if floor is not None:
        diff = 100 * (m["accuracy"] - floor["metrics"]["accuracy"])
        versus = f", {diff:+.2f} points against the boosted-tree floor ({100 * floor['metrics']['accuracy']:.2f} %)"
    train = results["settings"]["train"]
    data = results.get("data", {})
    lines = [
        f"# {name}",
        "",
        f"{SUMMARY_PREFIX} {label}, task {task}: {100 * m['accuracy']:.2f} % accuracy, macro AUC "
        f"{m['auc_macro']:.4f} on {n_test:,} held-out jets{versus}.",
        "",
        "```python",
        "import saltjet",
        f'tagger = saltjet.load_pretrained("{name}")      # or: saltjet evaluate --run {name} --data FILES',
        "probs = tagger.predict(\"jets.h5\")                # (N, classes), columns in tagger.class_names",
        "```",
        "",
        "## Data",
        f"- {generator_note(data.get('path')) or data.get('source', 'see the study report')}",
        f"- {data.get('n_jets', 0):,} jets from `{data.get('path', '?')}`; task {task} "
        f"({', '.join(results['tasks'][task]['class_names'])}); {row.get('n_train', 0):,} training jets, "
        f"{n_test:,} held-out test jets (never seen in training or model selection).",
        f"- Inputs: the run's feature set ({', '.join(summary_features(row, results))}), particles sorted by kT, "
        "n = 150 slots; the fitted normalisation is stored in the weights.",
        "",
        "## Training",
        f"- Command: `{results['command']}` (study `{results['study']}`, seed {row['seed']}).",
        f"- Schedule: {train.get('epochs')} epochs at most, batch {train.get('batch_size')}, Adam lr "
        f"{train.get('lr')}, {train.get('lr_schedule', 'none')} schedule, {train.get('warmup_epochs', 0)} warm-up "
        f"epoch(s), early stopping patience {train.get('patience')}.",
        f"- Ran {summary.get('epochs_run')} epochs; best epoch {summary.get('best_epoch')} "
        f"(validation accuracy {100 * (summary.get('val_accuracy') or 0):.2f} %), "
        f"{(row.get('train_wall_s') or 0) / 60:.1f} min of training on the machine that made it "
        f"(`metrics.csv` has the learning curve).",
        "",
        "## Held-out metrics",
        "| | accuracy [%] | AUC (macro) | mean 1/FPR @ TPR 0.8 |",
        "|---|---|---|---|",
        f"| {label} | {100 * m['accuracy']:.2f} | {m['auc_macro']:.4f} | {m['mean_rejection_at_tpr_0.8']:.1f} |",
    ]
    if floor is not None:
        f = floor["metrics"]
        lines.append(f"| physics floor (BDT on jet observables) | {100 * f['accuracy']:.2f} | {f['auc_macro']:.4f} | "
                     f"{f['mean_rejection_at_tpr_0.8']:.1f} |")
    lines += [
        "",
        "## Cost",
        f"- {row['params']:,} parameters; {row['flops']:,.0f} FLOPs per jet at n = 150 (matmul/conv, 2 per "
        f"multiply-add); {1000 * row['latency_ms']:.1f} µs per jet at batch {row.get('latency_batch')} on "
        f"{row.get('threads')} CPU thread(s) (measured in the study run).",
        "",
        "Pythia 8 jets without detector simulation: expect a shift on detector-level or other generators' jets.",
        "",
    ]
    return "\n".join(lines)


def generator_note(path: str | None) -> str:
    """How the data were made, from the `saltjet generate` manifests next to the data files ("" if
    none). `path` is a file, a folder or a glob (whose folder part may hold wildcards too)."""
    if not path:
        return ""
    named = Path(path)
    folder = named.parent if any(ch in named.name for ch in "*?[") or named.is_file() else named
    notes = []
    for manifest in sorted(glob.glob(str(folder / "generate_manifest_*.json"))):
        try:
            m = json.loads(Path(manifest).read_text())["settings"]
            flags = [f"--jets-per-class {m['jets_per_class']}", f"--seed {m['seed']}"]
            if m["n_shards"] > 1:
                flags.append(f"--shard {m['shard']}/{m['n_shards']}")
            if m.get("classes"):
                flags.append(f"--classes {','.join(m['classes'])}")
            if not m.get("mpi", True):
                flags.append("--no-mpi")
            notes.append(f"`saltjet generate {' '.join(flags)}`")
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not notes:
        return ""
    return ("Pythia 8 + FastJet jets made by " + " and ".join(notes)
            + " (13 TeV pp, anti-kT R = 0.8, 800 < pT < 1300 GeV, no detector simulation)")


def summary_features(row: dict, results: dict) -> list[str]:
    data = {**results["settings"].get("data", {}), **row.get("data_options", {})}
    features = data.get("features") or data.get("feature_set") or "raw"
    return [features] if isinstance(features, str) else list(features)


def ship(study_dir: str | Path, task: str, run: str, seed: int = 0, name: str | None = None,
         dest_root: str | Path = PRETRAINED_DIR) -> Path:
    """Copy run (task, run, seed) of the study in `study_dir` to `dest_root/name` with its card."""
    study_dir = Path(study_dir)
    results = json.loads((study_dir / "results.json").read_text())
    row = find_run(results, task, run, seed)
    source = study_dir / row["run_dir"]
    name = name or f"{row['model']}-{task.replace('_', '-')}"
    dest = Path(dest_root) / name
    dest.mkdir(parents=True, exist_ok=True)
    for fname in SHIPPED_FILES:
        if not (source / fname).is_file():
            raise ConfigError(f"{source} has no {fname}: is the run finished?")
        shutil.copyfile(source / fname, dest / fname)
    summary = json.loads((source / "summary.json").read_text())
    (dest / CARD_FILE).write_text(model_card(name, results, row, find_floor(results, task), summary), encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", required=True, help="study output folder (with results.json and runs/)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--run", required=True, help="run name in the study (salt, linformer, transformer)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", help="shipped name (default MODEL-TASK)")
    args = ap.parse_args(argv)
    print(ship(args.study, args.task, args.run, args.seed, args.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
