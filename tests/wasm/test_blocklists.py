"""Blocklists in the Fluent Bit filter (plugin/wasm/src/blocklists.rs): the
files in `postfix-enrich/blocklists/` under an accessible path (a WASI
preopen, as Fluent Bit's `Accessible_Paths` makes them) are the lists, each
named after its file. The events must equal the CLI's with the same files
as `--blocklist NAME=PATH` (`threat.enrichments` on listed clients' events,
nothing on the others); a missing directory means no lists; a list that
cannot be read is said once (the log and the first record) and never traps
or stops the others; lines that are not addresses are counted on the log,
as the CLI counts them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import SAMPLE, cli_path, input_files, log_lines, native_events
from harness import FluentBitHost

PROBE = "72.38.252.2"
LISTS = {
    # OpenBL style, with a line that is not an address.
    "openbl.txt": f"# OpenBL\n{PROBE}\n198.51.100.23\nnot-an-address here\n",
    # FireHOL / Spamhaus DROP style: networks with trailing comments, IPv6.
    "drop.netset": "; DROP\n72.38.0.0/16 ; SBL000001\n2001:db8::/32\n127.0.0.0/8 # the corpus clients\n",
}


def make_root(tmp: Path, lists: dict[str, str]) -> Path:
    root = tmp / "fluent-bit"
    d = root / "postfix-enrich" / "blocklists"
    d.mkdir(parents=True)
    for name, text in lists.items():
        (d / name).write_text(text)
    return root


def cli_events(path: Path, root: Path) -> list[dict]:
    d = root / "postfix-enrich" / "blocklists"
    # File-name order, as the filter takes them.
    args = [a for f in sorted(d.iterdir()) for a in ("--blocklist", f"{f.stem}={f}")]
    out = subprocess.run([str(cli_path()), *args, "--quiet", "--year", "2026", str(path)],
                         check=True, capture_output=True).stdout
    return [json.loads(l) for l in out.splitlines()]


@pytest.mark.parametrize("path", input_files())
def test_lists_under_an_accessible_path_give_the_cli_events(path, tmp_path):
    root = make_root(tmp_path, LISTS)
    empty = tmp_path / "empty"
    empty.mkdir()
    # The first accessible path has no lists: the next one's are used.
    host = FluentBitHost(accessible_paths=[(empty, "/var/log"), (root, "/etc/fluent-bit")])
    expected = cli_events(path, root)
    lines = log_lines(path)
    assert len(lines) == len(expected)
    listed = 0
    for i, (line, ev) in enumerate(zip(lines, expected)):
        out = host.filter_line(line, "message")
        assert out == ev, (i, line)
        listed += "threat" in out
    assert listed > 0, "some clients are listed"


def test_the_default_accessible_path_dot_works(tmp_path):
    """Fluent Bit's default Accessible_Paths is `.`."""
    root = make_root(tmp_path, LISTS)
    host = FluentBitHost(accessible_paths=[(root, ".")])
    events = [host.filter_line(l) for l in log_lines(SAMPLE)]
    threats = [e["threat"] for e in events if e.get("client", {}).get("ip") == PROBE]
    assert threats, "the probe's events"
    for t in threats:
        assert [x["indicator"]["provider"] for x in t["enrichments"]] == ["drop", "openbl"]
        assert [x["matched"]["atomic"] for x in t["enrichments"]] == [PROBE, PROBE]
        assert [x["indicator"]["ip"] for x in t["enrichments"]] == [PROBE, PROBE]
    assert all("threat" not in e for e in events if e.get("client", {}).get("ip") not in (None, PROBE))


def test_no_directory_means_no_lists(tmp_path):
    host = FluentBitHost(accessible_paths=[(tmp_path, "/etc/fluent-bit")])
    for line, ev in zip(log_lines(SAMPLE), native_events(SAMPLE)):
        assert host.filter_line(line, "message") == ev


def test_an_unreadable_list_is_said_once_and_the_others_load(tmp_path):
    root = make_root(tmp_path, {"openbl.txt": LISTS["openbl.txt"]})
    # A list file that cannot be read (a dangling link).
    (root / "postfix-enrich" / "blocklists" / "broken.txt").symlink_to(tmp_path / "gone.txt")
    log = tmp_path / "fluent-bit.log"
    host = FluentBitHost(accessible_paths=[(root, "/etc/fluent-bit")], stderr=log)
    lines = log_lines(SAMPLE)
    outs = [host.filter_line(l) for l in lines]
    assert "blocklist broken: /etc/fluent-bit/postfix-enrich/blocklists/broken.txt:" in outs[0]["postfix_enrich_error"]
    # The first record is otherwise enriched as usual, and the error is said only once.
    assert outs[0]["postfix"] == native_events(SAMPLE)[0]["postfix"]
    assert all("postfix_enrich_error" not in o for o in outs[1:])
    assert any(o.get("threat") for o in outs if o.get("client", {}).get("ip") == PROBE)
    said = log.read_text().splitlines()
    assert sum("blocklist broken" in l for l in said) == 1, said
    # The bad line of openbl is counted, as the CLI's stderr says it.
    cli = subprocess.run([str(cli_path()), "--blocklist", f"openbl={root / 'postfix-enrich/blocklists/openbl.txt'}",
                          str(SAMPLE)], check=True, capture_output=True, text=True).stderr
    note = next(l for l in cli.splitlines() if l.startswith("postfix-enrich: blocklist openbl"))
    assert note in said
    assert "1 line(s) skipped as not an address (first: line 4" in note
