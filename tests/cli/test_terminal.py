"""The CLI on a real (pseudo-)terminal of 80 columns, and under a pipe."""

from __future__ import annotations

import re

import pytest

from tests.cli._support import run_cli, run_pty

pytestmark = pytest.mark.integration

BAR = "━"
VERDICT = "12 legs: 12 settled exactly once, 0 failed, 0 unknown"


def test_progress_bar_redraws_on_one_line_and_log_records_do_not_tear_it() -> None:
    code, raw, screen = run_pty("demo", "--legs", "12", "--concurrency", "4", columns=80)
    assert code == 0, "\n".join(screen)
    bars = [row for row in screen if BAR in row]
    assert len(bars) == 1, "\n".join(screen)  # never stacked, never wrapped onto a second row
    (bar,) = bars
    assert re.fullmatch(r"settling ━+ 12/12 settled 12 \d:\d\d:\d\d", bar), bar
    assert len(bar) == 80  # it fills the terminal's width, no more
    # The SDK's warning about the lost answer is a line of its own, above the bar, intact.
    warnings = [row for row in screen if "answer lost; the batch shows it" in row]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING"), "\n".join(screen)
    assert screen.index(warnings[0]) < screen.index(bar)
    assert raw.count(b"\x1b[2K") >= 1 or raw.count(b"\x1b[1A") >= 1  # redrawn in place
    assert all(len(row) <= 80 for row in screen)
    assert [row for row in screen if row][-1] == VERDICT


def test_without_a_terminal_the_output_is_plain_lines() -> None:
    done = run_cli("demo", "--legs", "12")
    assert done.returncode == 0, done.stderr
    for text in (done.stdout, done.stderr):
        assert "\x1b" not in text and "\r" not in text and BAR not in text
    progress = re.findall(r"^\[(\d+)/12\] (\w+): settled", done.stderr, flags=re.MULTILINE)
    assert [int(n) for n, _ in progress] == list(range(1, 13))
    assert {asset for _, asset in progress} >= {"BTC", "ETH", "USD"}
    assert "WARNING kraken_prime_async: SettlePrimeSettlementBatchAsset: answer lost" in (
        done.stderr
    )
    lines = done.stdout.splitlines()
    assert lines[-1] == VERDICT
    assert "attempts 18, retries 1, read-backs 1" in done.stdout  # 13 settles + 5 reads
    assert any(line.startswith("  read-backs") for line in lines)
    assert any(line.startswith("  retries") for line in lines)
