"""Import time of each client library, measured in fresh interpreters.

Each sample is one new ``python`` process that times its own ``import`` statement with
``time.perf_counter()`` (interpreter start-up excluded exactly, no subtraction). Targets are
interleaved in rounds and the median is reported; one unmeasured run per target first makes sure
bytecode caches exist.

The children run with ``PYTHONDONTWRITEBYTECODE`` removed from their environment: pip compiled
the installed libraries' bytecode at install time, while our package (an editable install) is
only compiled on first import. With the variable set (as it is on some CI machines) our modules
would be compiled from source on every sample and the libraries' would not, which measures the
compiler, not the import.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from .serverproc import ROOT
from .stats import median, spread

BASELINE = "aiohttp, msgspec (baseline)"
OURS = "kraken_prime_async"
#: The target's figure: both imports timed in one process (see :func:`incremental`).
OURS_ON_TOP = "kraken_prime_async, timed on top of aiohttp+msgspec in one process"

#: label -> import statement (an optional untimed set-up comes before a "|")
TARGETS: dict[str, str] = {
    BASELINE: "import aiohttp, msgspec",
    OURS: "import kraken_prime_async",
    "python-kraken-sdk (kraken.base_api)": "from kraken.base_api import SpotAsyncClient",
    "ccxt.async_support": "import ccxt.async_support",
    "krakenex": "import krakenex",
    "pydantic": "import pydantic",
}

_PROGRAM = "{setup}\nimport time\nt = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t)\n"
_ON_TOP = (
    "import time\n"
    "t = time.perf_counter()\n"
    "import aiohttp, msgspec\n"
    "u = time.perf_counter()\n"
    "import kraken_prime_async\n"
    "print(u - t, time.perf_counter() - u)\n"
)


@dataclass(frozen=True)
class ImportResult:
    name: str
    statement: str
    ms: float
    spread_pct: float
    ratio_to_baseline: float


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _sample(statement: str) -> float:
    setup, _, stmt = statement.rpartition("|")
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(setup=setup.strip(), stmt=stmt.strip())],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return 1000.0 * float(out.stdout.strip().splitlines()[-1])


def run(*, rounds: int) -> list[ImportResult]:
    names = list(TARGETS)
    for name in names:
        _sample(TARGETS[name])
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_sample(TARGETS[name]))
    base = samples[BASELINE]
    return [
        ImportResult(
            name=n,
            statement=TARGETS[n],
            ms=median(samples[n]),
            spread_pct=spread(samples[n]),
            ratio_to_baseline=median([s / b for s, b in zip(samples[n], base, strict=True)]),
        )
        for n in names
    ]


def incremental(*, rounds: int) -> ImportResult:
    """``import kraken_prime_async`` ÷ ``import aiohttp, msgspec``, both timed in one process.

    The package imports aiohttp and msgspec itself, so its import is theirs plus its own
    modules': each sample times ``import aiohttp, msgspec`` and then ``import
    kraken_prime_async`` in the same fresh interpreter, and its ratio is ``(base + ours) /
    base``. Both parts run at the same moment on the same CPU, so the machine's load cancels
    out of the ratio (two separate interpreters, as in :func:`run`, can differ by ±15%).
    ``ms`` is the package's own part.
    """

    def sample() -> tuple[float, float]:
        out = subprocess.run(
            [sys.executable, "-c", _ON_TOP],
            cwd=ROOT,
            env=_environment(),
            capture_output=True,
            text=True,
            check=True,
        )
        base, ours = (1000.0 * float(x) for x in out.stdout.split())
        return base, ours

    sample()  # bytecode caches
    samples = [sample() for _ in range(rounds)]
    return ImportResult(
        name=OURS_ON_TOP,
        statement="import aiohttp, msgspec; import kraken_prime_async",
        ms=median([ours for _, ours in samples]),
        spread_pct=spread([ours for _, ours in samples]),
        ratio_to_baseline=median([(base + ours) / base for base, ours in samples]),
    )
