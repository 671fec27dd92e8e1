"""The wheel as `pip install kraken-prime-async` installs it (no extras, so no rich): the
`kraken-prime --version` and `kraken-prime sandbox` commands still run; the others name the extra.

Quick and offline: the wheel is built without isolation (hatchling is in the `dev` extra), the
venv is made without pip, and the runtime dependencies (aiohttp and msgspec with what they
need) are linked in from this environment instead of downloaded.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from kraken_prime_async import PrimeClient, __version__

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
RUNTIME = ("aiohttp", "msgspec", *(("tomli",) if sys.version_info < (3, 11) else ()))


def _closure(names: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need at run time, themselves included."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        dist = seen[name] = metadata.distribution(name)
        for text in dist.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def _link_dependencies(site: Path, into: Path) -> None:
    """Symlink the top-level modules of the runtime closure into ``into``; a ``.pth`` adds it."""
    into.mkdir()
    for dist in _closure(RUNTIME):
        for file in dist.files or ():
            top = Path(str(file)).parts[0]
            source = Path(str(dist.locate_file(top)))
            target = into / top
            if top != ".." and source.exists() and not target.exists():
                target.symlink_to(source)
    (site / "runtime-dependencies.pth").write_text(f"{into}\n")


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the wheel and its runtime dependencies, and nothing else."""
    work = tmp_path_factory.mktemp("wheel")
    run = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [*run, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = work.glob("kraken_prime_async-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)  # noqa: S603
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(  # noqa: S603
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    _link_dependencies(site, work / "deps")
    subprocess.run(  # noqa: S603
        [*run, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    return venv


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("KRAKEN_", "PYTHON"))}


def test_the_bare_install_has_no_rich(bare_venv: Path) -> None:
    done = subprocess.run(  # noqa: S603
        [str(bare_venv / "bin" / "python"), "-c", "import kraken_prime_async.testing, rich"],
        capture_output=True,
        text=True,
        env=_environment(),
        check=False,
    )
    assert "No module named 'rich'" in done.stderr


def test_version_and_the_other_commands_without_the_cli_extra(bare_venv: Path) -> None:
    script = str(bare_venv / "bin" / "kraken-prime")
    version = subprocess.run(  # noqa: S603
        [script, "--version"], capture_output=True, text=True, env=_environment(), check=False
    )
    assert (version.returncode, version.stdout) == (0, f"kraken-prime {__version__}\n")
    users = subprocess.run(  # noqa: S603
        [script, "users", "list"], capture_output=True, text=True, env=_environment(), check=False
    )
    assert users.returncode == 2
    assert "pip install 'kraken-prime-async[cli]'" in users.stderr


@pytest.fixture
def served(bare_venv: Path) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(  # noqa: S603
        [str(bare_venv / "bin" / "kraken-prime"), "sandbox", "--port", "0", "--trade", "BTC:1.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    exported: dict[str, str] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exported[name] = value
            if line.startswith("# serving until Ctrl-C"):
                break
        else:
            raise AssertionError(f"the sandbox did not start: {process.communicate()[1]}")
        yield exported
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 130, err
        assert "ListPrimeApiUsers 200 ok" in out


async def test_the_sandbox_command_serves_without_the_cli_extra(served: dict[str, str]) -> None:
    async with PrimeClient(
        served["KRAKEN_PRIME_API_KEY"],
        served["KRAKEN_PRIME_API_SECRET"],
        base_url=served["KRAKEN_PRIME_BASE_URL"],
    ) as client:
        assert await client.api_users.list() == []
        batch = await client.settlement.create_batch()
    assert [leg.asset for leg in batch.legs] == ["BTC"]


@pytest.mark.parametrize(
    ("argv", "code", "out", "err"),
    [
        (["--help"], 0, "only `kraken-prime --version` and `kraken-prime sandbox` run", ""),
        ([], 2, "pip install 'kraken-prime-async[cli]'", ""),
        (["--json", "batches", "list"], 2, "", "pip install 'kraken-prime-async[cli]'"),
        (["sandbox", "--port", "70000"], 2, "", "port 70000 is out of range"),
        (["--json", "sandbox", "--bogus"], 2, "", "unrecognized arguments: --bogus"),
    ],
)
def test_without_rich_in_process(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    out: str,
    err: str,
) -> None:
    from kraken_prime_async.cli import main

    monkeypatch.setitem(sys.modules, "rich", None)  # `import rich` now raises ImportError
    assert main(argv) == code
    printed = capsys.readouterr()
    assert out in printed.out and err in printed.err
