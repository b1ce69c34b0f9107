"""The Calendly documents ship in the repository, so a fresh clone's tests need nothing beside it.

They once lived in a `shared/` folder next to the repository, which a user who clones the project
doesn't have; the test command then collected nothing. These tests keep them inside, and keep
every place that names them pointing inside.
"""

from __future__ import annotations

import hashlib
import re
import subprocess

import pytest

from tests.support.conformance import REPOSITORY_ROOT, calendly_documents_dir

DOCUMENTS = ("openapi.yaml", "calendly-api-2026-excerpt.json", "API-NOTES.md", "SOURCE.md")
# SOURCE.md §1: the 2023 document is a byte-identical copy of upstream.
OPENAPI_2023_SHA256 = "09f7c8975fceb81bba0c5171a1c11d3c0c747246a587ed3d4bee520720dc7002"


def test_the_documents_are_inside_the_repository() -> None:
    directory = calendly_documents_dir()
    assert directory.is_relative_to(REPOSITORY_ROOT)
    for name in DOCUMENTS:
        assert (directory / name).is_file(), name


def test_the_2023_document_is_still_the_upstream_copy() -> None:
    digest = hashlib.sha256((calendly_documents_dir() / "openapi.yaml").read_bytes()).hexdigest()
    assert digest == OPENAPI_2023_SHA256


def test_source_notes_say_where_and_when_they_were_copied() -> None:
    source = (calendly_documents_dir() / "SOURCE.md").read_text(encoding="utf-8")
    assert "2026-12-01" in source
    assert "https://github.com/speakeasy-sdks/calendly-python" in source


def _tracked_files() -> list[str]:
    try:
        listing = subprocess.run(
            ["git", "ls-files"], cwd=REPOSITORY_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return listing.stdout.splitlines()


# `../shared`, `shared/calendly`, AUTOBOOK_SHARED_DIR: any way of reaching outside the clone.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared|(?<![\w/])shared/calendly|AUTOBOOK_SHARED_DIR")


def test_nothing_in_the_repository_reads_a_folder_beside_it() -> None:
    offenders = []
    for name in _tracked_files():
        if name.startswith("docs/calendly/") or name == "tests/unit/test_calendly_documents.py":
            continue  # upstream text quotes its old home; this file names the pattern
        if name == "tests/support/conformance.py":
            # One patch checks an upstream description that says "shared/calendly" verbatim.
            text = (REPOSITORY_ROOT / name).read_text(encoding="utf-8")
            text = text.replace("see Location in shared/calendly/openapi.yaml", "")
        else:
            path = REPOSITORY_ROOT / name
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, FileNotFoundError):
                continue
        offenders += [f"{name}: {m.group()}" for m in OUTSIDE_REFERENCE.finditer(text)]
    assert offenders == []
