"""The native reference the wasm tests compare with (plugin/wasm/examples/
native.rs, built from the same core source) prints exactly what the product
CLI prints: NDJSON, --stateless NDJSON and explain --sessions --json."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import cli_path, input_files, native_path


def run(cmd: list) -> str:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("path", input_files())
@pytest.mark.parametrize(
    "native_mode, cli_args",
    [("ndjson", []), ("stateless", ["--stateless"]), ("explain", ["explain", "--sessions", "--json"])],
)
def test_reference_matches_the_cli(path, native_mode, cli_args):
    if not cli_path().exists():
        pytest.fail(f"{cli_path()} missing: run tests/wasm/build.sh")
    ours = run([native_path(), native_mode, path])
    # The reference uses the core's fixed default (31 Dec 2026) for year-less
    # stamps, the CLI today's date: --year pins the CLI to the same year.
    cli = run([cli_path(), *cli_args, "--quiet", "--year", "2026", path])
    if native_mode == "explain":
        assert json.loads(ours) == json.loads(cli)
    else:
        assert ours == cli
