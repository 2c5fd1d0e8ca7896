"""`saltjet firmware`: FPGA firmware of a quantised run (da4ml): HLS C++ / Verilog, a resource and
latency estimate (report.json) and, with --csim, a bit-exact check of the compiled code against the
emulator."""

from __future__ import annotations

import argparse
import sys
import time

from saltjet.cli import int_at_least, positive_int

HELP = ("emit FPGA firmware for a quantised run with da4ml (HLS C++ and/or Verilog) with a LUT/FF/DSP and "
        "latency estimate in report.json; --csim compiles it and checks it against the emulator bit for bit")


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _hard_dc(text: str) -> int:
    """argparse type of --hard-dc: -1 (no limit) or a number of adder levels ≥ 0."""
    return int_at_least(text, -1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="QRUN", help="quantised run directory written by saltjet quantize")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (hls/, verilog/, report.json)")
    p.add_argument("--hls", action="store_true", help="emit the Vitis HLS C++ project (default: both, when neither is given)")
    p.add_argument("--verilog", action="store_true", help="emit the pipelined Verilog project")
    p.add_argument("--clock-mhz", type=_positive_number, default=200.0, metavar="MHZ",
                   help="clock the latency is stated at (default 200 MHz)")
    p.add_argument("--latency-cutoff", type=_positive_number, default=None, metavar="UNITS",
                   help="da4ml delay units per pipeline stage (default: the clock period in ns, da4ml's 5 at 200 MHz)")
    p.add_argument("--hard-dc", type=_hard_dc, default=0, metavar="LEVELS",
                   help="adder levels a constant matrix product may add over the shallowest tree (da4ml's "
                        "hard_dc): 0 = lowest latency (default), -1 = no limit (fewest LUTs)")
    p.add_argument("--csim", action="store_true",
                   help="compile the emitted HLS with g++ (and the Verilog with Verilator where installed) and "
                        "compare them and da4ml's interpreter with the emulator on --data jets; exit 1 on any mismatch")
    p.add_argument("--data", nargs="+", metavar="PATH", help="jets for --csim: data file(s), folder or glob")
    p.add_argument("--split", default="test", choices=["test", "val", "train", "all"],
                   help="which part of --data (default: the float run's test part)")
    p.add_argument("--jets", type=positive_int, default=200, metavar="N", help="jets for --csim (default 200)")
    p.add_argument("--csim-anyway", action="store_true",
                   help="run --csim even when the design is larger than g++ handles in reasonable time here")


def run(args: argparse.Namespace) -> int:
    from saltjet.errors import ConfigError

    if args.csim and not args.data:
        raise ConfigError("--csim needs --data FILES (the jets to compare on)")
    if args.data and not args.csim:
        raise ConfigError("--data is only used with --csim")

    from saltjet.extras import check_extras

    check_extras("trigger", purpose="saltjet firmware")
    from saltjet.training.run import write_json
    from saltjet.trigger.csim import check, summary, verilator_available
    from saltjet.trigger.firmware import stage_cutoff
    from saltjet.trigger.firmware_salt import build_salt, check_csim_size, salt_inputs
    from saltjet.trigger.spec import QuantSpec

    spec = QuantSpec.load(args.run)
    hls, verilog = (args.hls, args.verilog) if (args.hls or args.verilog) else (True, True)
    cutoff = stage_cutoff(args.clock_mhz, args.latency_cutoff)
    jets = None
    if args.csim:  # read the jets first: a bad --data fails before minutes of tracing
        from saltjet.trigger.compare import jets_for

        jets = jets_for(spec, args.data, args.split).head(args.jets)
        if len(jets.y) == 0:
            raise ConfigError(f"no jets in the {args.split} part of {' '.join(args.data)}")
    start = time.perf_counter()
    design, report = build_salt(spec, args.out, hls=hls, verilog=verilog, clock_mhz=args.clock_mhz,
                                latency_cutoff=cutoff, qrun=args.run, hard_dc=args.hard_dc)
    emitted = " and ".join(report["emitted"])
    print(f"{emitted} for SAL-T n={spec.n_particles} written to {args.out} in {time.perf_counter() - start:.1f} s")
    for what, why in report["not_emitted"].items():
        print(f"{what} not written: {why}", file=sys.stderr)
    print(f"estimate (da4ml): {report['lut']:,} LUTs, {report['ff']:,} FFs, {report['dsp']} DSPs; "
          f"{report['pipeline_stages']} pipeline stages = {report['latency_ns']:g} ns at {args.clock_mhz:g} MHz, II=1")
    if not args.csim:
        return 0
    check_csim_size(report, force=args.csim_anyway)
    flat, expected = salt_inputs(design, spec, jets.x.numpy(), jets.mask.numpy())
    # the emitted implementations are compiled where they were written (Verilog: where verilator is installed)
    results = check(design, flat, expected, args.out, hls="hls" in report["emitted"],
                    verilog="verilog" in report["emitted"] and verilator_available(),
                    clock_period_ns=1000.0 / args.clock_mhz)
    for r in results:
        print(r.line())
        for e in r.examples:
            print(f"  jet {e['input']}, logit {e['output']}: {r.name} {e['got']!r}, emulator {e['expected']!r}")
    if "verilog" in report["emitted"] and not verilator_available():
        print("verilog: not simulated (verilator is not installed)", file=sys.stderr)
    report["csim"] = {"jets": len(flat), "split": args.split, "data": list(args.data), **summary(results)}
    write_json(f"{args.out}/report.json", report)
    return 0 if report["csim"]["mismatches"] == 0 else 1
