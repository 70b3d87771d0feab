"""The LogQL and Elasticsearch examples cannot run here (no registry ships
Loki or Elasticsearch), so they are kept honest another way: every Event
field they name must exist in schemas/event.schema.json, read the way each
engine names it (ES: dotted ECS paths; LogQL's `| json`: dots and nesting
turned into `_`), and every stream label a LogQL query selects on must be
one the Vector example's Loki sink sets."""

import json
import re

import pytest

from conftest import REPO

ES = (REPO / "examples/queries/elasticsearch.md").read_text()
LOGQL = (REPO / "examples/queries/logql.md").read_text()
VECTOR = (REPO / "examples/vector/vector.yaml").read_text()


def schema_paths(schema):
    """Every dotted path of the Event (objects and leaves), `$ref`s followed."""
    defs = schema.get("$defs", {})
    out = set()

    def resolve(node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 16:
            node = defs[node["$ref"].split("/")[-1]]
            seen += 1
        return node

    def walk(node, prefix, depth):
        node = resolve(node)
        if not isinstance(node, dict) or depth > 12:
            return
        for alt in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            walk(alt, prefix, depth + 1)
        if "items" in node:
            walk(node["items"], prefix, depth + 1)
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            out.add(path)
            walk(sub, path, depth + 1)

    walk(schema, "", 0)
    return out


def blocks(md, lang):
    return re.findall(r"```%s\n(.*?)```" % lang, md, flags=re.S)


def es_fields():
    names = set()

    def walk(v, parent=None):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "field" and isinstance(x, str):
                    names.add(x)
                elif parent in ("term", "terms", "range", "sort") and "field" not in v:
                    # A query clause keyed by field; an aggregation has `field`.
                    names.add(k)
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                if parent == "_source" and isinstance(x, str):
                    names.add(x)
                walk(x, parent)

    for b in blocks(ES, "json"):
        body = b.split("\n", 1)[1] if b.startswith(("GET", "POST")) else b
        walk(json.loads(body))
    for b in blocks(ES, "esql"):
        names.update(re.findall(r"@timestamp|\b[a-z_]+(?:\.[a-z_]+)+\b", b))
    return names


def test_elasticsearch_fields_exist(schema):
    paths = schema_paths(schema)
    names = es_fields()
    assert {"client.ip", "probe.class", "postfix.session_id", "@timestamp"} <= names, names
    missing = sorted(n for n in names if n not in paths)
    assert not missing, f"elasticsearch.md names fields the Event does not have: {missing}"


def logql_fields():
    """(json-flattened names, dotted names, stream labels) a LogQL block uses."""
    flat, dotted, labels = set(), set(), set()
    for b in blocks(LOGQL, "logql"):
        for sel in re.findall(r"\{([^}]*)\}", b):
            if sel.startswith("{") or sel.startswith("."):
                continue
            labels.update(re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", sel))
        dotted.update(re.findall(r'\w+="([a-z_@]+(?:\.[a-z_]+)+)"', b))
        flat.update(re.findall(r"\{\{\s*\.(\w+)\s*\}\}", b))
        for stage in re.findall(r"\|\s*(\w+)\s*(?:=~|!=|!~|=)\s*\"", b):
            flat.add(stage)
        for out_name in re.findall(r'(\w+)="[a-z_]+(?:\.[a-z_]+)+"', b):
            flat.discard(out_name)
            flat.add("=" + out_name)
    return flat, dotted, labels


def test_logql_fields_exist(schema):
    paths = schema_paths(schema)
    flattened = {p.replace(".", "_"): p for p in paths}
    flat, dotted, labels = logql_fields()
    assert dotted and flat and labels
    missing = sorted(d for d in dotted if d not in paths)
    assert not missing, f"logql.md extracts fields the Event does not have: {missing}"
    # Names bound by `| json name="path"` are checked through their path above.
    bound = {n[1:] for n in flat if n.startswith("=")}
    unknown = sorted(n for n in flat if not n.startswith("=") and n not in bound
                     and n not in flattened and n != "session_id")
    assert not unknown, f"logql.md filters on names `| json` would not produce: {unknown}"


def test_logql_labels_are_set_by_the_vector_sink():
    _, _, labels = logql_fields()
    sink = re.search(r"labels:\n((?:\s*#?\s+\w+: \"\{\{[^\n]*\n)+)", VECTOR)
    assert sink, "the Vector example has a Loki sink with labels"
    defined = set(re.findall(r"(\w+): \"\{\{", sink.group(1)))
    assert labels <= defined, f"LogQL selects on labels the sink does not set: {sorted(labels - defined)}"
