"""Memory of our client: peak RSS and a leak check, each configuration in a fresh child process.

Child (``python -m benchmarks.memory URL SCENARIO MODE CALLS``): opens one ``PrimeClient``, makes
one call (warm-up), notes RSS, then either makes ``CALLS`` sequential calls or runs waves of 1,000
concurrent calls (``CALLS / 1000`` waves), noting RSS and the number of GC-tracked objects after
the first and after the last thousand calls. Peak RSS is ``ru_maxrss`` of the child (cross-checked
with ``VmHWM``). Results are discarded as they arrive, as a caller streaming pages would.

Linux keeps ``ru_maxrss`` across ``exec``: a child forked straight from the (large) benchmark
process would report the parent's RSS as its peak. The child is therefore started through
``/bin/sh``, which forks it from a small process.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from .clients import Ours, Scenario
from .serverproc import ROOT

WAVE = 1000
#: ``sh -c '"$@"; exit $?' sh CMD...`` forks CMD from the shell (the trailing ``exit`` stops the
#: shell from exec-ing it in place).
_TRAMPOLINE = ("/bin/sh", "-c", '"$@"; exit $?', "sh")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def _vm_hwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _snapshot() -> tuple[float, int]:
    gc.collect()
    return _rss_mib(), len(gc.get_objects())


async def _child(url: str, scenario: Scenario, mode: str, calls: int) -> dict[str, Any]:
    client = Ours(url, scenario)
    await client.open()
    await client.call()
    start_rss, _ = _snapshot()
    marks: list[tuple[float, int]] = []
    if mode == "sequential":
        for i in range(1, calls + 1):
            await client.call()
            if i in (WAVE, calls):
                marks.append(_snapshot())
    else:

        async def one() -> None:
            await client.call()  # the result is dropped here, not held until the wave ends

        for _ in range(max(1, calls // WAVE)):
            await asyncio.gather(*(one() for _ in range(WAVE)))
            marks.append(_snapshot())
    await client.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "start_rss_mib": start_rss,
        "peak_rss_mib": peak_kib / 1024,
        "vm_hwm_mib": _vm_hwm_mib(),
        "rss_first_1k_mib": marks[0][0],
        "rss_last_1k_mib": marks[-1][0],
        "objects_first_1k": marks[0][1],
        "objects_last_1k": marks[-1][1],
    }


@dataclass(frozen=True)
class MemoryResult:
    scenario: str
    mode: str
    calls: int
    start_rss_mib: float
    peak_rss_mib: float
    vm_hwm_mib: float
    rss_first_1k_mib: float
    rss_last_1k_mib: float
    objects_first_1k: int
    objects_last_1k: int

    @property
    def growth_mib(self) -> float:
        return self.rss_last_1k_mib - self.rss_first_1k_mib


def measure(url: str, scenario: Scenario, mode: str, calls: int) -> MemoryResult:
    out = subprocess.run(
        [*_TRAMPOLINE, sys.executable, "-m", "benchmarks.memory", url, scenario, mode, str(calls)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return MemoryResult(scenario=scenario, mode=mode, calls=calls, **data)


def main(argv: list[str]) -> None:
    url, scenario, mode, calls = argv
    if mode not in ("sequential", "concurrent") or scenario not in ("tiny", "large"):
        raise SystemExit(
            "usage: python -m benchmarks.memory URL tiny|large sequential|concurrent N"
        )
    result = asyncio.run(_child(url, scenario, mode, int(calls)))  # type: ignore[arg-type]
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
