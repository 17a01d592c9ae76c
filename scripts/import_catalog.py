"""Turn a product owner's indicator specification (CSV) into the indicators part of a catalogue.

    python scripts/import_catalog.py ../shared/catalogs/3tn-2024.csv > /tmp/indicators.yaml

The output is the `indicators:` list of a catalogue YAML; sections, narrative lists, the ceilings by
kind (`ceilings:`) and report phrases are written by hand around it (see templates/catalogs/), or
the whole catalogue is authored in a spreadsheet instead (`batn catalogue new`, docs/bo-chi-tieu.md).
Codes are kept exactly and checked as defined names; rules go through the one rule parser the
catalogue loader uses (batn.rulelang); optional `max`, `required`, `target`, `phrase` and `compare`
columns are copied under the same keys.
"""
from __future__ import annotations

import csv
import sys

import yaml

from batn.catalogue import parse_ceiling, parse_rule_spec, rule_spec
from batn.rulelang import code_problem, parse_target


def indicators_from_csv(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            code = row["code"].strip()
            why = code_problem(code)
            if why:
                raise SystemExit(f"{path}: {why}")
            item = {
                "code": code,
                "section": row["section"].strip(),
                "label": row["label"].strip(),
                "unit": row["unit"].strip(),
                "kind": row["kind"].strip(),
            }
            if row.get("pair", "").strip():
                item["pair"] = row["pair"].strip()
            if row.get("rule", "").strip():
                item["rules"] = [rule_spec(parse_rule_spec(r, code)) for r in row["rule"].split("|") if r.strip()]
            if (row.get("max") or "").strip():
                item["max"] = parse_ceiling(row["max"].strip(), f"{code}: max")
            for key in ("required", "phrase", "compare"):
                if (row.get(key) or "").strip():
                    item[key] = row[key].strip()
            if (row.get("target") or "").strip():
                parse_target(row["target"].strip())          # refuses what the loader would refuse
                item["target"] = row["target"].strip()
            out.append(item)
    return out


if __name__ == "__main__":
    yaml.safe_dump({"indicators": indicators_from_csv(sys.argv[1])}, sys.stdout,
                   allow_unicode=True, sort_keys=False, width=200)
