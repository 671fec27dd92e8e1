"""Run the benchmark suite and write ``benchmarks/results/latest.md``.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.run            # full run (several minutes)
    .venv/bin/python -m benchmarks.run --quick    # smaller samples, under two minutes
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import decode, imports, looplag, memory, percall, report, targets
from .clients import FLOOR_NAME, Ours, OursWindowed, check_floor_signature
from .serverproc import ROOT, ServerProcess

SECTIONS = ("percall", "looplag", "decode", "imports", "memory")


@dataclass(frozen=True)
class Settings:
    tiny_rounds: int
    tiny_calls: int
    large_rounds: int
    large_calls: int
    warmup: int
    decode_rounds: int
    decode_per_round: int
    import_rounds: int
    looplag_runs: int
    #: (scenario, mode, calls)
    memory_runs: tuple[tuple[str, str, int], ...]

    def describe(self) -> str:
        return (
            f"per-call tiny {self.tiny_rounds} rounds x {self.tiny_calls} calls, "
            f"large {self.large_rounds} rounds x {self.large_calls} calls (per client and mode); "
            f"decode {self.decode_rounds} rounds x {self.decode_per_round}; "
            f"imports {self.import_rounds} rounds; loop lag {self.looplag_runs} runs"
        )


FULL = Settings(
    tiny_rounds=15,
    tiny_calls=500,
    large_rounds=15,
    large_calls=50,
    warmup=50,
    decode_rounds=15,
    decode_per_round=20,
    import_rounds=11,
    looplag_runs=5,
    memory_runs=(
        ("tiny", "sequential", 10_000),
        ("tiny", "concurrent", 10_000),
        ("large", "sequential", 10_000),
        ("large", "concurrent", 5_000),
    ),
)
QUICK = Settings(
    tiny_rounds=8,
    tiny_calls=200,
    large_rounds=8,
    large_calls=20,
    warmup=20,
    decode_rounds=6,
    decode_per_round=8,
    import_rounds=5,
    looplag_runs=2,
    memory_runs=(
        ("tiny", "sequential", 10_000),
        ("tiny", "concurrent", 3_000),
        ("large", "concurrent", 2_000),
    ),
)


def _command(argv: list[str]) -> str:
    python = Path(sys.executable)
    shown = os.path.relpath(python, ROOT) if python.is_relative_to(ROOT) else str(python)
    return shlex.join([shown, "-m", "benchmarks.run", *argv])


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _per_call_section(
    urls: Any,
    settings: Settings,
    parts: list[str],
    evaluated: list[targets.Target],
    raw: dict[str, Any],
) -> None:
    """The per-call section: every client on the tiny and the large answer."""
    loop = asyncio.new_event_loop()
    try:
        _log("per-call: tiny answer")
        tiny = percall.run_scenario(
            loop,
            urls.tiny,
            "tiny",
            rounds=settings.tiny_rounds,
            calls=settings.tiny_calls,
            warmup=settings.warmup,
        )
        _log("per-call: large answer")
        large = percall.run_scenario(
            loop,
            urls.large,
            "large",
            rounds=settings.large_rounds,
            calls=settings.large_calls,
            warmup=settings.warmup // 5,
        )
    finally:
        loop.close()
    parts.append("## Per-call client cost (server in a separate process)")
    parts.append(report.per_call("Tiny answer: ListPrimeApiUsers, 1 user", percall.summarize(tiny)))
    parts.append(
        report.per_call(
            "Large answer: ListPrimeSettlementBatches, 200 batches x 5 legs",
            percall.summarize(large),
        )
    )
    parts.append(report.queueing(tiny, (Ours.name, OursWindowed.name), FLOOR_NAME))
    evaluated += targets.per_call(tiny, large)
    raw["percall"] = {
        "tiny": [dataclasses.asdict(r) for r in tiny],
        "large": [dataclasses.asdict(r) for r in large],
    }


def _arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The command line: its options and the sections to run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small samples (< 2 minutes)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "latest.md",
        help="markdown file to write (a .json with the raw numbers is written next to it)",
    )
    args = parser.parse_args(argv)
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    return args, sections


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, sections = _arguments(argv)
    settings = QUICK if args.quick else FULL
    started = dt.datetime.now(dt.timezone.utc)
    check_floor_signature()

    parts = [
        report.header(_command(argv), started.isoformat(timespec="seconds"), settings.describe())
    ]
    evaluated: list[targets.Target] = []
    raw: dict[str, Any] = {"settings": dataclasses.asdict(settings)}

    with ServerProcess() as urls:
        if "percall" in sections:
            _per_call_section(urls, settings, parts, evaluated, raw)
        if "looplag" in sections:
            _log(f"loop lag: {looplag.CALLS} calls on {looplag.KEYS} keys")
            lag = looplag.run(urls.tiny, runs=settings.looplag_runs)
            parts.append(report.loop_lag(lag))
            evaluated += targets.loop_lag(lag)
            raw["looplag"] = [dataclasses.asdict(r) for r in lag]
        if "decode" in sections:
            _log("decode")
            size, decoded = decode.run(
                rounds=settings.decode_rounds, per_round=settings.decode_per_round
            )
            parts.append(report.decoding(size, decoded))
            evaluated += targets.decoding(decoded)
            raw["decode"] = [dataclasses.asdict(r) for r in decoded]
        if "imports" in sections:
            _log("imports")
            imported = imports.run(rounds=settings.import_rounds)
            imported.append(imports.incremental(rounds=3 * settings.import_rounds))
            parts.append(report.importing(imported))
            evaluated += targets.importing(imported)
            raw["imports"] = [dataclasses.asdict(r) for r in imported]
        if "memory" in sections:
            mem = []
            for scenario, mode, calls in settings.memory_runs:
                _log(f"memory: {scenario} {mode} {calls}")
                url = urls.tiny if scenario == "tiny" else urls.large
                mem.append(memory.measure(url, scenario, mode, calls))  # type: ignore[arg-type]
            parts.append(report.memory(mem))
            raw["memory"] = [dataclasses.asdict(r) for r in mem]

    if evaluated:
        parts.insert(1, report.targets(evaluated))
        raw["targets"] = [dataclasses.asdict(t) | {"passed": t.passed} for t in evaluated]
    elapsed = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    parts.append(f"_Run took {elapsed:.0f} s._")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n\n".join(parts) + "\n")
    args.output.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    _log(f"wrote {args.output} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
