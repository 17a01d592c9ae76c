"""Check a request against Google's published discovery documents (Sheets API v4, Drive API v3).

The documents are the ones shipped inside the `google-api-python-client` package
(googleapiclient/discovery_cache/documents/sheets.v4.json and drive.v3.json): Google's own machine
description of every method, parameter and schema. The stand-in (sheets_standin.py) runs every
request it receives through `check_request`, so a request batn sends that names a method, a query
parameter, a body field, a field-mask path or an enum value the real API does not have fails the
test, whatever the stand-in itself would have accepted: the stand-in cannot drift from Google
without a test noticing.

`check_request(method, raw_path, query, body) -> list[str]`: the problems, empty when the request
is one Google documents.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

# request -> the schema its "fields" mask is about
_MASKED = {"UpdateCellsRequest": "CellData", "RepeatCellRequest": "CellData",
           "UpdateSheetPropertiesRequest": "SheetProperties",
           "UpdateSpreadsheetPropertiesRequest": "SpreadsheetProperties",
           "UpdateDimensionPropertiesRequest": "DimensionProperties",
           "UpdateProtectedRangeRequest": "ProtectedRange"}


def documents_dir() -> Path | None:
    spec = find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "discovery_cache" / "documents"
    return d if (d / "sheets.v4.json").is_file() else None


@dataclass
class Method:
    name: str
    http: str
    regex: re.Pattern
    literal: int
    doc: dict
    spec: dict


@lru_cache(maxsize=1)
def _api() -> tuple[list[Method], dict[str, dict]]:
    d = documents_dir()
    if d is None:
        raise RuntimeError("google-api-python-client is not installed: pip install -e '.[test]'")
    methods: list[Method] = []
    docs = {}
    for name, prefix in (("sheets.v4.json", "/"), ("drive.v3.json", "/drive/v3/")):
        doc = json.loads((d / name).read_text(encoding="utf-8"))
        docs[doc["name"]] = doc

        def walk(res: dict, dotted: str) -> None:
            for k, v in res.get("resources", {}).items():
                walk(v, f"{dotted}{k}.")
            for k, m in res.get("methods", {}).items():
                template = prefix + m.get("flatPath", m["path"])
                pattern = re.escape(template)
                pattern = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", pattern)
                literal = len(re.sub(r"\{[^}]+\}", "", template))
                methods.append(Method(f"{doc['name']}.{dotted}{k}", m["httpMethod"], re.compile(f"^{pattern}$"),
                                      literal, doc, m))
        walk(doc, "")
    return methods, docs


def find_method(method: str, raw_path: str) -> Method | None:
    methods, _ = _api()
    found = [m for m in methods if m.http == method.upper() and m.regex.match(raw_path)]
    return max(found, key=lambda m: m.literal) if found else None


def check_request(method: str, raw_path: str, query: dict[str, list[str]], body: Any) -> list[str]:
    m = find_method(method, raw_path)
    if m is None:
        return [f"{method} {raw_path}: no such method in Google's discovery documents"]
    problems: list[str] = []
    params = {**m.doc.get("parameters", {}), **m.spec.get("parameters", {})}
    for key, values in query.items():
        p = params.get(key)
        if p is None or p.get("location") == "path":
            problems.append(f"{m.name}: query parameter '{key}' does not exist")
            continue
        if len(values) > 1 and not p.get("repeated"):
            problems.append(f"{m.name}: query parameter '{key}' is not repeated")
        for v in values:
            problems += _check_scalar(v, p, f"{m.name}?{key}", from_query=True)
    if key_fields := query.get("fields"):
        resp = m.spec.get("response", {}).get("$ref")
        if resp:
            for v in key_fields:
                problems += _check_partial(v, m.doc, resp, f"{m.name}?fields")
    ref = m.spec.get("request", {}).get("$ref")
    if ref is None:
        if body not in (None, {}, b"", ""):
            problems.append(f"{m.name}: takes no request body")
    else:
        problems += _check(body if body is not None else {}, {"$ref": ref}, m.doc, m.name)
    return problems


def _check_scalar(v: Any, p: dict, where: str, from_query: bool = False) -> list[str]:
    t = p.get("type")
    if from_query:
        if t == "boolean" and str(v).lower() not in ("true", "false"):
            return [f"{where}: '{v}' is not a boolean"]
        if t == "integer" and not re.fullmatch(r"-?\d+", str(v)):
            return [f"{where}: '{v}' is not an integer"]
    if "enum" in p and v not in p["enum"]:
        return [f"{where}: '{v}' is not one of {p['enum']}"]
    return []


def _check(value: Any, schema: dict, doc: dict, where: str) -> list[str]:
    if "$ref" in schema:
        return _check(value, doc["schemas"][schema["$ref"]], doc, where)
    t = schema.get("type")
    if t == "any" or t is None and "properties" not in schema:
        return []
    if t == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        problems = []
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if props is not None and k in props:
                problems += _check(v, props[k], doc, f"{where}.{k}")
            elif extra is not None:
                problems += _check(v, extra, doc, f"{where}.{k}")
            else:
                problems.append(f"{where}: field '{k}' does not exist in {schema.get('id', 'the schema')}")
        target = _MASKED.get(schema.get("id", ""))
        if target and isinstance(value.get("fields"), str):
            problems += _check_mask(value["fields"], doc, target, f"{where}.fields")
        return problems
    if t == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [p for i, v in enumerate(value) for p in _check(v, schema.get("items", {}), doc, f"{where}[{i}]")]
    if t == "string":
        if schema.get("format") in ("int64", "uint64") and isinstance(value, int) and not isinstance(value, bool):
            return []
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        return _check_scalar(value, schema, where)
    if t == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: expected an integer"]
    if t == "number":
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{where}: expected a number"]
    if t == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    return []


def _props(doc: dict, schema_id: str) -> dict:
    return doc["schemas"][schema_id].get("properties", {})


def _child(doc: dict, schema_id: str | None, name: str) -> tuple[bool, str | None]:
    """(exists, the child's schema id when it is an object or an array of objects)."""
    if schema_id is None:
        return False, None
    p = _props(doc, schema_id).get(name)
    if p is None:
        return False, None
    if p.get("type") == "array":
        p = p.get("items", {})
    return True, p.get("$ref")


def _check_mask(mask: str, doc: dict, schema_id: str, where: str) -> list[str]:
    """A FieldMask: comma-separated dotted paths ("userEnteredFormat.backgroundColor,note") or "*"."""
    problems = []
    for path in (p.strip() for p in mask.split(",")):
        if path == "*" or not path:
            continue
        current: str | None = schema_id
        for part in path.split("."):
            ok, nxt = _child(doc, current, part)
            if not ok:
                problems.append(f"{where}: '{path}' is not a field of {schema_id}")
                break
            current = nxt
    return problems


def _check_partial(spec: str, doc: dict, schema_id: str, where: str) -> list[str]:
    """A partial-response selector: "a,b/c,d(e,f(g))"."""
    problems: list[str] = []
    pos = 0

    def items(schema: str | None) -> None:
        nonlocal pos
        while pos < len(spec):
            m = re.compile(r"[A-Za-z0-9_$]+(?:/[A-Za-z0-9_$]+)*").match(spec, pos)
            if not m:
                problems.append(f"{where}: cannot read '{spec[pos:]}'")
                pos = len(spec)
                return
            pos = m.end()
            current = schema
            for part in m.group(0).split("/"):
                ok, nxt = _child(doc, current, part)
                if not ok:
                    problems.append(f"{where}: '{m.group(0)}' is not a field of {schema}")
                current = nxt
            if pos < len(spec) and spec[pos] == "(":
                pos += 1
                items(current)
                if pos < len(spec) and spec[pos] == ")":
                    pos += 1
            if pos < len(spec) and spec[pos] == ",":
                pos += 1
                continue
            return

    items(schema_id)
    if pos != len(spec) and not problems:
        problems.append(f"{where}: unbalanced '{spec}'")
    return problems
