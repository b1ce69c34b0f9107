"""What the command line says to someone who has not read the README yet.

Subprocesses in an empty folder, on the embedded SQLite default: `--version`, help texts that
give each option's meaning and default, `status` with no requests, and `resume` with and without
a pause to lift.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autobook import __version__, db, store
from autobook.cli import build_parser

COMMAND_TIMEOUT_SECONDS = 60


def _autobook(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOBOOK_")}
    return subprocess.run(
        [sys.executable, "-m", "autobook", *args],
        cwd=folder,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = _autobook(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"autobook {__version__}"


def _help(command: str) -> str:
    parser = build_parser()
    subparsers = next(
        action for action in parser._actions if action.dest == "command" and action.choices
    )
    assert isinstance(subparsers.choices, dict)
    sub = subparsers.choices[command]
    sub.formatter_class = functools.partial(argparse.HelpFormatter, width=10_000)  # no folding
    help_text: str = sub.format_help()
    return " ".join(help_text.split())


@pytest.mark.parametrize(
    ("command", "option", "default"),
    [
        ("worker", "--concurrency", "2"),
        ("worker", "--loglevel", "INFO"),
        ("status", "--limit", "1000"),
        ("sandbox", "--host", "127.0.0.1"),
        ("sandbox", "--port", "8765"),
        ("sandbox", "--token", "sandbox-token"),
        ("demo", "--timeout", "50.0"),
    ],
)
def test_every_option_with_a_value_says_what_it_is_and_its_default(
    command: str, option: str, default: str
) -> None:
    text = _help(command)
    text = text[text.index("options:") :]  # past the usage line, which names every flag
    start = text.index(option)
    end = text.find(" --", start + len(option))
    described = text[start : end if end != -1 else len(text)]
    assert f"(default: {default})" in described, described
    assert len(described.split()) > 4, described  # some words of meaning, not just the flag


def test_worker_help_lists_the_short_concurrency_flag() -> None:
    assert "-c N, --concurrency N" in _help("worker")


def test_demo_keep_help_says_the_database_is_kept_anyway() -> None:
    text = _help("demo")
    assert "the database and the logs there are always kept" in text


def test_status_in_an_empty_folder_says_there_are_no_requests(tmp_path: Path) -> None:
    result = _autobook(tmp_path, "status")
    assert result.returncode == 0, result.stderr
    assert "no requests yet" in result.stdout
    assert "autobook submit" in result.stdout
    assert _autobook(tmp_path, "status", "--json").stdout.strip() == "[]"


def test_resume_when_nothing_was_paused_says_so(tmp_path: Path) -> None:
    result = _autobook(tmp_path, "resume")
    assert result.returncode == 0, result.stderr
    assert "not paused" in result.stdout
    assert "resumed" not in result.stdout


def test_resume_after_a_pause_lifts_it_and_says_why_it_was_paused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / '.autobook' / 'autobook.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    try:
        with sessions() as session:
            store.pause_sending(session, reason="401 Unauthenticated")
        result = _autobook(tmp_path, "resume")
        assert result.returncode == 0, result.stderr
        assert "sending resumed" in result.stdout
        assert "401 Unauthenticated" in result.stdout
        with sessions() as session:
            assert store.sending_paused(session) is None
    finally:
        engine.dispose()
