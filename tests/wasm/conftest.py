"""Shared fixtures for the Fluent Bit filter tests: the module host, the
inputs (bundled sample always; the real-Postfix corpus when it is present,
reported as a skip with its reason when not) and the native reference,
which is the CLI's NDJSON for the same file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import ROOT, FluentBitHost

SAMPLE = ROOT / "examples" / "logs" / "seed-ehlo-probe.log"
CORPUS = ROOT / "tests" / "corpus" / "recording"
CORPUS_FILES = [CORPUS / "mail.log", CORPUS / "syslog.log"]


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")


def cli_path() -> Path:
    """The product CLI (built by build.sh)."""
    return Path(os.environ.get("POSTFIX_ENRICH_CLI") or target_dir() / "debug" / "postfix-enrich")


def native_path() -> Path:
    """plugin/wasm/examples/native.rs: the core natively, from the same source."""
    return Path(os.environ.get("NATIVE_REF") or target_dir() / "debug" / "examples" / "native")


_NATIVE: dict[tuple, list[dict]] = {}


def native_events(path: Path, mode: str = "ndjson") -> list[dict]:
    """The native core's events for `path`, one per line (stateful, default
    options): exactly what `postfix-enrich FILE` prints (checked by
    test_reference.py)."""
    key = (path, mode)
    if key not in _NATIVE:
        out = subprocess.run([str(native_path()), mode, str(path)], check=True, capture_output=True).stdout
        _NATIVE[key] = [json.loads(l) for l in out.splitlines()]
    return _NATIVE[key]


def log_lines(path: Path) -> list[str]:
    """The file's lines as the CLI splits them (on \\n, newline dropped)."""
    data = path.read_bytes().decode("utf-8", errors="replace")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def input_files() -> list:
    """The sample, plus each corpus file or a skip marker saying it is absent."""
    params = [pytest.param(SAMPLE, id="sample")]
    for f in CORPUS_FILES:
        if f.exists():
            params.append(pytest.param(f, id=f"corpus-{f.stem}"))
        else:
            params.append(
                pytest.param(f, id=f"corpus-{f.stem}", marks=pytest.mark.skip(reason=f"{f} absent"))
            )
    return params


@pytest.fixture
def host() -> FluentBitHost:
    return FluentBitHost()
