"""What the results were measured on: machine, interpreter and library versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = (
    "kraken-prime-async",
    "aiohttp",
    "msgspec",
    "yarl",
    "multidict",
    "python-kraken-sdk",
    "ccxt",
    "krakenex",
    "requests",
    "pydantic",
    "pydantic-core",
    "orjson",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def describe() -> dict[str, str]:
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "load average (1/5/15 min) at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
