"""The `trigger` study: each float SAL-T of the study quantised, emulated and traced to firmware.

For every finished (task, run, seed) of a `kind: trigger` study (trained and evaluated as a jets
study, so a run equal to one of `compare` is copied, not retrained):

    float run  -> `saltjet.trigger.qat.quantize_run` (the study's `quantize` settings) -> RUN/qrun/
               -> `saltjet.trigger.compare.compare_run` on the held-out test jets: float, QAT and
                  bit-exact emulator accuracy, bit-exact jet count, EBOPs, widths
               -> `saltjet.trigger.firmware_salt.trace_salt` + `Design.report`: da4ml's LUT / FF
                  estimate, pipeline stages and latency at the study's clock (nothing emitted)
               -> RUN/trigger.json (its presence, with the same `trigger_key`, = done)

The record of each run goes to results.json under "trigger"; `trigger_table` renders the report's
table and `trigger_figures` draws accuracy against estimated LUTs and latency, with the Virtex
UltraScale+ VU13P's LUT count and the 100 ns target marked. All resources are da4ml estimates, not
synthesis results.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Callable

from saltjet.errors import ConfigError
from saltjet.training.run import write_json

TRIGGER_FILE = "trigger.json"
QRUN_DIR = "qrun"
QAT_DONE_FILE = "study_qat.json"  # in RUN/qrun/: the quantisation's key and summary (its presence = QRUN done)
VU13P_LUTS = 1_728_000  # Xilinx Virtex UltraScale+ VU13P
LATENCY_TARGET_NS = 100.0
DEFAULT_CLOCK_MHZ = 200.0
# The anchor issue 13 names; published on the hls4ml LHC jet data (150 particles), not on saltjet's jets
JEDI_LINEAR = {"name": "JEDI-linear", "source": "arXiv:2508.15468", "accuracy": 0.8156, "latency_ns_below": 60.0,
               "data": "hls4ml LHC jets, 150 particles (not saltjet's generated jets: accuracies do not compare)"}
FIRMWARE_KEYS = ("clock_mhz", "latency_cutoff", "hard_dc")


def check_settings(spec) -> None:
    """ConfigError for unknown `quantize` / `firmware` keys of a trigger study, or a non-SAL-T run."""
    from saltjet.trigger.qat import QATOptions

    known = {f.name for f in fields(QATOptions)} - {"seed"}
    bad = sorted(set(spec.quantize) - known) + sorted(set(spec.firmware) - set(FIRMWARE_KEYS))
    if bad:
        raise ConfigError(f"study {spec.name}: unknown quantize/firmware key(s) {', '.join(bad)}; quantize takes "
                          f"{', '.join(sorted(known))}, firmware {', '.join(FIRMWARE_KEYS)}")
    others = [r.name for r in spec.runs if r.model != "salt"]
    if others:
        raise ConfigError(f"study {spec.name}: the fixed-point path converts SAL-T only; runs {', '.join(others)} are not salt")


def trigger_key(spec, seed: int, firmware: bool = True) -> str:
    """What a run's trigger.json depends on beyond its float run: quantisation and firmware settings
    (quantisation alone with firmware=False: the key of RUN/qrun/, which firmware settings leave be)."""
    raw = json.dumps({"quantize": spec.quantize, "firmware": spec.firmware if firmware else None, "seed": seed},
                     sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _qat_options(spec, seed: int):
    from saltjet.trigger.qat import QATOptions

    return QATOptions(**{**spec.quantize, "seed": seed})


def _quantize_once(run_dir: Path, paths: list[str], spec, seed: int, say: Callable[[str], None]) -> tuple[dict, float]:
    """RUN/qrun/ from the float run (read back when its key matches): (QAT summary, seconds)."""
    from saltjet.trigger.qat import quantize_run

    done = run_dir / QRUN_DIR / QAT_DONE_FILE
    key = trigger_key(spec, seed, firmware=False)
    previous = json.loads(done.read_text()) if done.is_file() else {}
    if previous.get("qat_key") == key:
        say("  quantize: done, read back")
        return previous["summary"], previous.get("seconds")
    start = time.perf_counter()
    _, summary = quantize_run(run_dir, paths, run_dir / QRUN_DIR, _qat_options(spec, seed),
                              log=lambda s: say(f"  quantize: {s}"))
    seconds = time.perf_counter() - start
    write_json(done, {"qat_key": key, "summary": summary, "seconds": seconds}, indent=1)
    return summary, seconds


def _firmware_estimate(qdir: Path, firmware: dict) -> dict:
    """da4ml's report of the traced design of a QRUN (nothing emitted), at the study's clock."""
    from saltjet.trigger.firmware import DEFAULT_HARD_DC, stage_cutoff
    from saltjet.trigger.firmware_salt import trace_salt
    from saltjet.trigger.spec import QuantSpec

    design = trace_salt(QuantSpec.load(qdir), int(firmware.get("hard_dc", DEFAULT_HARD_DC)))
    clock = float(firmware.get("clock_mhz", DEFAULT_CLOCK_MHZ))
    design.to_pipeline(stage_cutoff(clock, firmware.get("latency_cutoff")))
    return design.report(clock)


def quantize_and_trace(run_dir: Path, paths: list[str], spec, seed: int, say: Callable[[str], None]) -> dict:
    """Quantise one float run, score float / QAT / emulator on its test jets, trace its firmware:
    the run's trigger record (also written to RUN/trigger.json)."""
    from saltjet.trigger.compare import compare_run

    summary, qat_seconds = _quantize_once(run_dir, paths, spec, seed, say)
    t1 = time.perf_counter()
    scores = compare_run(run_dir / QRUN_DIR, paths, split="test")
    t2 = time.perf_counter()
    fw = _firmware_estimate(run_dir / QRUN_DIR, spec.firmware)
    record = {
        "trigger_key": trigger_key(spec, seed), "qrun": QRUN_DIR, "quantize_options": asdict(_qat_options(spec, seed)),
        "qat_summary": summary, **{k: v for k, v in scores.items() if k not in ("qrun", "bits")},
        **{k: fw[k] for k in ("lut", "ff", "dsp", "pipeline_stages", "latency_ns", "clock_mhz", "operations", "hard_dc",
                              "da4ml_version")},
        "mul_var_var": fw["operations"].get("mul_var_var", 0),
        "seconds": {"quantize": qat_seconds, "emulate": t2 - t1, "firmware_estimate": time.perf_counter() - t2},
    }
    write_json(run_dir / TRIGGER_FILE, record, indent=1)
    return record


def run_trigger(spec, results: dict, out: Path, paths: list[str], say: Callable[[str], None]) -> list[dict]:
    """The trigger records of every run row in `results` (done ones read back, the rest computed)."""
    records = []
    rows = results["runs"]
    for i, row in enumerate(rows, 1):
        run_dir = out / row["run_dir"]
        path = run_dir / TRIGGER_FILE
        prefix = f"[trigger {i}/{len(rows)}] {row['task']} {row['run']} seed {row['seed']}"
        key = trigger_key(spec, row["seed"])
        record = json.loads(path.read_text()) if path.is_file() else None
        if record is not None and record.get("trigger_key") == key:
            say(f"{prefix}: done, skipped")
        else:
            say(f"{prefix}: quantise, emulate, trace firmware")
            record = quantize_and_trace(run_dir, paths, spec, row["seed"], say)
            say(f"{prefix}: float {100 * record['float_accuracy']:.2f} %, emulator {100 * record['emulator_accuracy']:.2f} %, "
                f"{record['lut']:,} LUTs, {record['latency_ns']:.0f} ns")
        records.append({"task": row["task"], "run": row["run"], "label": row["label"], "seed": row["seed"],
                        "n_particles": record["n_particles"], "model_options": row.get("model_options", {}),
                        "params": row.get("params"), "float_test_accuracy": row["metrics"].get("accuracy"),
                        **{k: v for k, v in record.items() if k not in ("trigger_key", "operations")},
                        "fits_vu13p": record["lut"] <= VU13P_LUTS,
                        "meets_latency_target": record["latency_ns"] <= LATENCY_TARGET_NS})
    return records


def _widths(r: dict) -> str:
    o = r.get("model_options") or {}
    heads = int(o.get("n_heads", 4))
    return f"d={o.get('d_model', 16)}, {heads} head{'s' if heads > 1 else ''}"


def _signed(points: float) -> str:
    return f"{points:.2f}".replace("-", "−")


def trigger_table(records: list[dict]) -> str:
    """Markdown table: one row per quantised run (float, QAT and emulator accuracy on the test jets,
    bit-exactness, widths, da4ml's LUT / FF estimate, stages and latency)."""
    head = ["run", "n", "model", "seed", "float [%]", "quantised = emulator [%]", "float − quantised [points]", "bit-exact jets",
            "bits (mean)", "est. LUTs", "est. FFs", "stages", "latency [ns]", "fits VU13P", "≤ 100 ns"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(records, key=lambda r: (r["task"], r["n_particles"], r["run"], r["seed"])):
        loss = 100 * (r["float_accuracy"] - r["emulator_accuracy"]) if r.get("float_accuracy") is not None else None
        cells = [r["label"], str(r["n_particles"]), _widths(r), str(r["seed"]),
                 "—" if r.get("float_accuracy") is None else f"{100 * r['float_accuracy']:.2f}",
                 f"{100 * r['qat_accuracy']:.2f} = {100 * r['emulator_accuracy']:.2f}" if r["bit_exact"]
                 else f"{100 * r['qat_accuracy']:.2f} ≠ {100 * r['emulator_accuracy']:.2f}",
                 "—" if loss is None else _signed(loss),
                 f"{r['bit_exact_jets']:,} / {r['jets']:,}", f"{r['min_bits']}–{r['max_bits']} ({r['mean_bits']:.2f})",
                 f"{r['lut']:,}", f"{r['ff']:,}", str(r["pipeline_stages"]), f"{r['latency_ns']:.0f}",
                 "yes" if r["fits_vu13p"] else "**no**", "yes" if r["meets_latency_target"] else "**no**"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def trigger_findings(records: list[dict]) -> list[str]:
    """Plain statements read off the records: quantisation loss, what fits, what meets 100 ns."""
    if not records:
        return []
    out = []
    losses = [100 * (r["float_accuracy"] - r["emulator_accuracy"]) for r in records if r.get("float_accuracy") is not None]
    if losses:
        out.append(f"Quantisation cost {_signed(min(losses))} to {_signed(max(losses))} accuracy points (float − quantised; "
                   "negative: the quantised run scored higher; target ≤ 1); "
                   f"{sum(round(l, 9) <= 1.0 for l in losses)} of {len(losses)} runs within 1 point.")
    exact = sum(r["bit_exact"] for r in records)
    out.append(f"Emulator == QAT model bit for bit on every test jet in {exact} of {len(records)} runs.")
    fits = [r for r in records if r["fits_vu13p"]]
    if fits:
        best = max(fits, key=lambda r: r["emulator_accuracy"])
        out.append(f"Fits one VU13P ({VU13P_LUTS:,} LUTs, estimated): {', '.join(sorted({r['label'] for r in fits}))}; "
                   f"the most accurate of these is {best['label']} ({100 * best['emulator_accuracy']:.2f} %, "
                   f"{best['lut']:,} LUTs, {best['latency_ns']:.0f} ns).")
    too_big = sorted({r["label"] for r in records if not r["fits_vu13p"]})
    if too_big:
        out.append(f"Does not fit one VU13P: {', '.join(too_big)}.")
    fast = [r for r in records if r["meets_latency_target"]]
    shortest = min(records, key=lambda r: r["latency_ns"])
    out.append(f"Latency ≤ {LATENCY_TARGET_NS:.0f} ns: {', '.join(sorted({r['label'] for r in fast})) or 'none'}; the "
               f"shortest estimate is {shortest['latency_ns']:.0f} ns ({shortest['label']}, {shortest['pipeline_stages']} stages "
               f"at {shortest['clock_mhz']:g} MHz).")
    out.append(f"Reference, not comparable in accuracy: {JEDI_LINEAR['name']} ({JEDI_LINEAR['source']}) reports "
               f"{100 * JEDI_LINEAR['accuracy']:.2f} % at < {JEDI_LINEAR['latency_ns_below']:.0f} ns on {JEDI_LINEAR['data']}.")
    return out


def trigger_figures(records: list[dict], out: Path) -> list[Path]:
    """figures/trigger.{png,pdf}: test accuracy against da4ml's LUT estimate (left) and latency
    (right); filled markers quantised (= emulator), open markers the float run, one colour per width."""
    import matplotlib
    import matplotlib.ticker
    from matplotlib.figure import Figure

    from saltjet.evaluation import plots

    if not records:
        return []
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(_widths(r), []).append(r)
    with plots.style():
        fig = Figure(figsize=(14, 7), layout="constrained")
        axes = fig.subplots(1, 2, sharey=True)
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        ordered = sorted(groups.items(), key=lambda kv: -int((kv[1][0].get("model_options") or {}).get("d_model", 16)))
        for g, ((widths, rows), colour) in enumerate(zip(ordered, colours)):  # widest first
            rows = sorted(rows, key=lambda r: r["n_particles"])
            for ax, key, line in zip(axes, ("lut", "latency_ns"), ("o-", "o")):  # latency is not monotonic in n
                x = [r[key] for r in rows]
                ax.plot(x, [100 * r["emulator_accuracy"] for r in rows], line, color=colour,
                        label=f"SAL-T {widths}, quantised")
                ax.plot(x, [100 * r["float_accuracy"] for r in rows], "o", mfc="none", color=colour,
                        label=f"SAL-T {widths}, float")
                for i, r in enumerate(rows):  # labels alternate sides: neighbouring latencies are close
                    side = (8, "left") if key == "lut" or i % 2 else (-8, "right")
                    dy, va = (-4, "top") if g % 2 == 0 else (5, "bottom")  # alternate groups label below / above
                    ax.annotate(f"n={r['n_particles']}", (r[key], 100 * r["emulator_accuracy"]), textcoords="offset points",
                                xytext=(side[0], dy), ha=side[1], va=va, fontsize=12, color=colour)
        axes[0].axvline(VU13P_LUTS, ls="--", color="grey")
        axes[0].text(VU13P_LUTS, 0.97, " one VU13P", transform=axes[0].get_xaxis_transform(), color="grey", fontsize=13,
                     va="top")
        luts = [r["lut"] for r in records]
        axes[0].set_xscale("log")
        axes[0].set_xlim(min(luts) / 2, max(max(luts), VU13P_LUTS) * 2)
        axes[0].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes[0].set_xlabel("LUTs (da4ml estimate)", fontsize=18)
        axes[0].set_ylabel("test accuracy [%]")
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=12)
        axes[1].axvline(LATENCY_TARGET_NS, ls="--", color="grey")
        axes[1].text(LATENCY_TARGET_NS, 0.97, "100 ns target ", transform=axes[1].get_xaxis_transform(), color="grey",
                     fontsize=13, va="top", ha="right")
        axes[1].axvline(JEDI_LINEAR["latency_ns_below"], ls=":", color="tab:red")
        axes[1].text(JEDI_LINEAR["latency_ns_below"], 0.97, "JEDI-linear\n< 60 ns\n(other data) ",
                     transform=axes[1].get_xaxis_transform(), color="tab:red", fontsize=12, va="top", ha="right")
        axes[1].set_xlabel(f"latency [ns] (stages at {records[0]['clock_mhz']:g} MHz, estimate)", fontsize=18)
        axes[1].set_xlim(0, max(r["latency_ns"] for r in records) * 1.2)
        fig.suptitle(f"SAL-T in fixed point, {records[0]['task']}: {records[0]['jets']:,} test jets", fontsize=16)
        return plots.save_figure(fig, out / "figures" / "trigger")
