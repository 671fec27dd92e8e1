"""How the CLI is installed and found: rich stays out of the library, --version, -m, help."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from kraken_prime_async import __version__
from kraken_prime_async._resources.fast_api_keys import PERMISSION_NAMES
from kraken_prime_async.cli import INSTALL_HINT, main
from kraken_prime_async.cli._main import build_parser
from tests.cli._support import run_cli


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_the_library_does_not_import_rich() -> None:
    done = _python(
        "-c",
        "import sys, kraken_prime_async, kraken_prime_async.errors, kraken_prime_async.sandbox\n"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_rich_the_script_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # `import rich` now raises ImportError
    assert main(["users", "list"]) == 2
    assert capsys.readouterr().err.strip() == INSTALL_HINT
    assert "pip install 'kraken-prime-async[cli]'" in INSTALL_HINT


def test_version_from_the_script_and_from_python_m() -> None:
    script = run_cli("--version")
    assert (script.returncode, script.stdout) == (0, f"kraken-prime {__version__}\n")
    module = _python("-m", "kraken_prime_async", "--version")
    assert (module.returncode, module.stdout) == (0, f"kraken-prime {__version__}\n")
    helped = _python("-m", "kraken_prime_async", "doctor", "--help")
    assert helped.returncode == 0 and "clock" in helped.stdout


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action.choices.values():
                yield from _parsers(choice)


def test_every_command_and_option_has_help() -> None:
    parsers = dict(_parsers(build_parser()))
    assert "kraken-prime doctor" in parsers and "kraken-prime keys create" in parsers
    for prog, parser in parsers.items():
        assert parser.description, prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), prog
            else:
                assert action.help, (prog, action.dest)
    allow = parsers["kraken-prime fast-keys create"].format_help()
    flat = " ".join(allow.split())
    assert all(name in flat for name in PERMISSION_NAMES)
    settle = " ".join(parsers["kraken-prime settle"].format_help().split())
    assert "legs worked on at once;" in settle and "(default: 4)" in settle
    assert "with Kraken's default of 0 they go one at a time" in settle
    assert "(default: 30)" in settle  # the global --timeout, shown on every command
