"""The project's catalogues carry every row of the product owner's specifications, codes unchanged."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from batn.catalogue import CatalogueError, catalogue_from_dict, load_catalogue, parse_rule_spec
from batn.model import Severity

# The product owner's specifications, copied into the repository (tests/data/catalogs/README.md)
SPECS = Path(__file__).resolve().parent / "data" / "catalogs"
HEADINGS = {
    "3tn-2009": ["Trách nhiệm với công việc", "Trách nhiệm với nhân dân", "Trách nhiệm với bản thân"],
    "3tn-2024": ["Trách nhiệm với bản thân", "Trách nhiệm với công việc", "Trách nhiệm với cộng đồng"],
}
# 2024: the spec numbers sections by code prefix; the catalogue orders them as the 2015+ documents do.
RESPONSIBILITY = {"BT_": "Trách nhiệm với bản thân", "CV_": "Trách nhiệm với công việc",
                  "CD_": "Trách nhiệm với cộng đồng", "ND_": "Trách nhiệm với nhân dân"}


@pytest.mark.parametrize("cid", ["3tn-2009", "3tn-2024"])
def test_every_spec_row_is_in_the_catalogue(cid):
    spec = SPECS / f"{cid}.csv"
    cat = load_catalogue(cid)
    rows = list(csv.DictReader(spec.open(encoding="utf-8")))
    assert set(cat.codes) == {r["code"] for r in rows}
    for r in rows:
        ind = cat[r["code"]]
        assert (ind.unit, ind.kind, ind.pair or "") == (r["unit"], r["kind"], r["pair"])
        assert ind.rules == ((parse_rule_spec(r["rule"]),) if r["rule"] else ())
        heading = cat.section(ind.section).heading
        if ind.section.startswith("II."):
            assert heading == RESPONSIBILITY[r["code"][:3]], r["code"]
        else:
            assert ind.section == r["section"]
    assert [cat.section(k).heading for k in ("II.1", "II.2", "II.3")] == HEADINGS[cid]


@pytest.mark.parametrize("spec,op,other,sev", [
    ("<= TT_CBCCVC_TRE [lỗi]", "le", "TT_CBCCVC_TRE", Severity.ERROR),
    (">= TK_HOINGHI_SO when both > 0 [cảnh báo]", "ge_both", "TK_HOINGHI_SO", Severity.WARNING),
    ("> 0 needs CD_QUA_SO > 0 [cảnh báo]", "needs", "CD_QUA_SO", Severity.WARNING),
])
def test_rule_notation(spec, op, other, sev):
    r = parse_rule_spec(spec)
    assert (r.op, r.other, r.severity) == (op, other, sev)


@pytest.mark.parametrize("op,value,other,violated", [
    ("le", 5, 4, True), ("le", 4, 4, False), ("le", 5, None, False),
    ("ge_both", 3, 4, True), ("ge_both", 4, 4, False), ("ge_both", 0, 4, False), ("ge_both", 3, 0, False),
    ("needs", 1, 0, True), ("needs", 1, None, True), ("needs", 0, 0, False), ("needs", 1, 1, False),
])
def test_rule_semantics(op, value, other, violated):
    from batn.model import Rule
    assert Rule(op, "X", Severity.ERROR).violated(value, other) is violated


def test_bad_catalogue_is_refused():
    with pytest.raises(CatalogueError, match="tham chiếu"):
        catalogue_from_dict({"id": "x", "title": "x", "sections": [{"key": "I", "heading": "h"}],
                             "indicators": [{"code": "A", "section": "I", "label": "a", "unit": "cuộc",
                                             "kind": "count", "pair": "B"}]})
    with pytest.raises(CatalogueError, match="Không hiểu"):
        parse_rule_spec("A < ")


@pytest.mark.parametrize("cid", ["3tn-2009", "3tn-2024"])
def test_every_phrase_renders(cid):
    """Each sentence template renders with all figures present, and with only its own."""
    from batn.report.context import Phrases
    cat = load_catalogue(cid)
    full = Phrases(cat, {c: 7 for c in cat.codes})
    for key in cat.phrases:
        assert all(s and "{" not in s for s in full.section(key, subject="toàn tỉnh"))
        for item in cat.phrases[key]:
            for code in item["needs"]:
                only = Phrases(cat, {code: 3})
                assert "  " not in only.render(item["text"], subject="toàn tỉnh")
