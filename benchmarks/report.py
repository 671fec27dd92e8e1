"""Render one run's results as markdown."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import median

from . import decode, imports, machine
from .looplag import LoopLagResult
from .memory import MemoryResult
from .percall import CONCURRENCY, ClientRuns, ClientSummary, own_queueing, pairwise_concurrent
from .targets import Target


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return fmt.format(value)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def header(command: str, date: str, settings: str) -> str:
    info = machine.describe()
    vers = machine.versions()
    lines = [
        "# kraken_prime_async benchmarks",
        "",
        f"- Date: {date}",
        f"- Command: `{command}`",
        f"- Settings: {settings}",
        *(f"- {k}: {v}" for k, v in info.items()),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        "",
        "The machine is shared and noisy: absolute numbers move between runs; the ratios are "
        "taken per round (clients interleaved in the same run) and are what to compare.",
    ]
    return "\n".join(lines)


def per_call(title: str, rows: list[ClientSummary]) -> str:
    body = [
        (
            r.name,
            _num(r.cpu_us),
            _num(r.cpu_spread_pct, "±{:.0f}%"),
            _num(r.ratio_to_floor, "{:.2f}x"),
            _num(r.calls_per_s),
            _num(r.cpu_us_conc),
            _num(r.ratio_to_floor_conc, "{:.2f}x"),
            _num(r.calls_per_s_conc),
        )
        for r in rows
    ]
    return f"### {title}\n\n" + table(
        (
            "client",
            "CPU µs/call (seq)",
            "spread",
            "÷ floor",
            "calls/s (seq)",
            f"CPU µs/call (c={CONCURRENCY})",
            f"÷ floor (c={CONCURRENCY})",
            f"calls/s (c={CONCURRENCY})",
        ),
        body,
    )


def queueing(runs: list[ClientRuns], ours: Sequence[str], floor: str) -> str:
    """Our client's CPU per call with 50 callers on one key, against its own sequential figure."""
    by_name = {r.name: r for r in runs}
    body = []
    for name in ours:
        run = by_name.get(name)
        if run is None:
            continue
        seq = [s.cpu_us_per_call for s in run.sequential]
        conc = [s.cpu_us_per_call for s in run.concurrent]
        body.append(
            (
                name,
                _num(median(seq)),
                _num(median(conc)),
                _num(own_queueing(runs, name), "{:.2f}x"),
                _num(pairwise_concurrent(runs, name, floor), "{:.2f}x"),
            )
        )
    return (
        f"### Queueing: {CONCURRENCY} callers on one key (tiny answer)\n\n"
        + table(
            (
                "client",
                "CPU µs/call (seq)",
                f"CPU µs/call (c={CONCURRENCY})",
                f"c={CONCURRENCY} ÷ own seq (per round)",
                f"c={CONCURRENCY} ÷ floor c={CONCURRENCY}",
            ),
            body,
        )
        + "\n\nWith window 0 the key sends one request at a time and the other 49 callers wait in "
        "its queue; the ratio to our own sequential figure is what that waiting costs."
    )


def loop_lag(rows: list[LoopLagResult]) -> str:
    body = [
        (
            str(i),
            f"{r.calls:,} on {r.keys} keys",
            f"{r.callbacks:,}",
            f"{r.blocked_max_ms:.2f}",
            f"{r.blocked_p99_ms:.3f}",
            f"{r.blocked_p50_ms:.3f}",
            f"{r.gc_count} (gen ≤ {r.gc_oldest_generation}), max {r.gc_max_ms:.2f}",
            f"{r.tick_max_ms:.2f}",
            f"{r.tick_p99_ms:.2f}",
            _num(r.cpu_us_per_call),
        )
        for i, r in enumerate(rows, 1)
    ]
    return (
        "## Event-loop friendliness (fresh child process per run)\n\n"
        + table(
            (
                "run",
                "concurrent calls",
                "callbacks timed",
                "blocked max (ms)",
                "blocked p99 (ms)",
                "blocked p50 (ms)",
                "GC pauses, longest (ms)",
                "ticker gap max (ms)",
                "ticker gap p99 (ms)",
                "CPU µs/call",
            ),
            body,
        )
        + "\n\n*Blocked*: thread CPU time of each callback the loop ran (one uninterrupted stretch "
        "of SDK or aiohttp code), garbage collection taken out. *GC pauses*: the collections "
        "during the run, timed apart (their length depends on every live object in the process). "
        "*Ticker gap*: wall time between turns of a task looping on "
        "`await asyncio.sleep(0)`, i.e. one whole loop iteration (every callback ready at that "
        "moment, plus preemption by other processes on the shared machine)."
    )


def decoding(size: int, rows: list[decode.DecodeResult]) -> str:
    body = [
        (r.name, _num(r.us_per_decode), _num(r.spread_pct, "±{:.0f}%"), f"{r.typed_speedup:.2f}x")
        for r in rows
    ]
    return f"## Decoding the large page ({size:,} bytes)\n\n" + table(
        ("decoder", "µs/decode", "spread", "÷ typed (>1: typed faster)"), body
    )


def importing(rows: list[imports.ImportResult]) -> str:
    body = [
        (
            r.name,
            "`" + r.statement.split("|")[-1].strip() + "`",
            _num(r.ms, "{:.1f}"),
            f"{r.ratio_to_baseline:.2f}x",
        )
        for r in rows
    ]
    return (
        "## Import time (fresh interpreter, start-up excluded)\n\n"
        + table(("library", "statement", "ms", "÷ aiohttp+msgspec"), body)
        + "\n\nThe last row is the target's figure: one interpreter times `import aiohttp,"
        " msgspec` and then `import kraken_prime_async` (by then only the package's own modules"
        " and two small stdlib ones are left to load), and the ratio is (both) ÷ (the first),"
        " per sample; its *ms* is the package's own part. The other rows time each statement"
        " in its own interpreter, so their ratios carry the load difference between two"
        " processes (±15%)."
    )


def memory(rows: list[MemoryResult]) -> str:
    body = [
        (
            r.scenario,
            f"{r.calls:,} {r.mode}" + (" (waves of 1,000)" if r.mode == "concurrent" else ""),
            f"{r.start_rss_mib:.1f}",
            f"{r.peak_rss_mib:.1f} ({r.vm_hwm_mib:.1f})",
            f"{r.rss_first_1k_mib:.1f}",
            f"{r.rss_last_1k_mib:.1f}",
            f"{r.growth_mib:+.2f}",
            f"{r.objects_first_1k:,} → {r.objects_last_1k:,}",
        )
        for r in rows
    ]
    return (
        "## Memory of our client (fresh child process per row)\n\n"
        + table(
            (
                "answer",
                "calls",
                "RSS after warm-up (MiB)",
                "peak RSS getrusage (VmHWM), MiB",
                "RSS after first 1k",
                "RSS after last 1k",
                "growth",
                "GC objects first → last",
            ),
            body,
        )
        + "\n\nPeak RSS includes the interpreter and every imported module (the warm-up column)."
    )


def targets(rows: list[Target]) -> str:
    body = [
        (
            t.what,
            f"{t.measured:.2f}",
            t.condition,
            "PASS" if t.passed else "**FAIL**",
            "" if t.bound is None else f"{t.bound:.2f}",
        )
        for t in rows
    ]
    return (
        "## Targets\n\n"
        + table(("target", "measured", "wanted", "result", "aiohttp alone (bound)"), body)
        + "\n\n*aiohttp alone (bound)*: the same ratio for a client that only sends a pre-built,"
        " pre-signed request with aiohttp (no per-request timer) and reads the answer without"
        " decoding it. Nothing that signs each request and decodes each answer can measure below"
        " it while sending with aiohttp."
    )
