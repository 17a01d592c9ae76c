"""Turn a product owner's indicator specification (CSV) into the indicators part of a catalogue.

    python scripts/import_catalog.py ../shared/catalogs/3tn-2024.csv > /tmp/indicators.yaml

The output is the `indicators:` list of a catalogue YAML; sections, narrative
lists, the ceilings by kind (`ceilings:`) and report phrases are written by hand around it
(see templates/catalogs/). Codes are kept exactly; rules are checked by the same parser the
catalogue loader uses, and an optional `max` column (an indicator's own ceiling) by its reader.
"""
from __future__ import annotations

import csv
import sys

import yaml

from batn.catalogue import parse_ceiling, parse_rule_spec, rule_spec


def indicators_from_csv(path: str) -> list[dict]:
    out = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            item = {
                "code": row["code"].strip(),
                "section": row["section"].strip(),
                "label": row["label"].strip(),
                "unit": row["unit"].strip(),
                "kind": row["kind"].strip(),
            }
            if row.get("pair", "").strip():
                item["pair"] = row["pair"].strip()
            if row.get("rule", "").strip():
                item["rules"] = [rule_spec(parse_rule_spec(row["rule"]))]
            if (row.get("max") or "").strip():
                item["max"] = parse_ceiling(row["max"].strip(), f"{item['code']}: max")
            out.append(item)
    return out


if __name__ == "__main__":
    yaml.safe_dump({"indicators": indicators_from_csv(sys.argv[1])}, sys.stdout,
                   allow_unicode=True, sort_keys=False, width=200)
