"""Numbers that overflow (issue 12, item 1): a 400-digit text, 1.7e308 in two units, "1e400",
money just over its ceiling. Each is a lỗi at its cell in its own unit, is not summed, and the
consolidated workbook, the JSON, the report and the Google rows are still written, with every
number in them finite."""
from __future__ import annotations

import json
import math
import os
import random
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

from batn import layout as L
from batn.catalogue import CatalogueError, DEFAULT_CEILINGS, catalogue_from_dict, catalogue_path, load_catalogue
from batn.checks import check_values
from batn.cli import app
from batn.demo import sample_values
from batn.model import MAX_FIGURE, Figures, Submission
from batn.numbers import finite, parse_figure, readable
from batn.pipeline import load_period
from batn.rollup import HAS_ERRORS, _add, consolidate
from batn.tables import plain
from batn.units import load_units
from batn.xlsx.template import write_template

UNITS = """code,name,parent,level
T,Tỉnh Đoàn Mẫu,,Tỉnh Đoàn
A,Đoàn khối A,T,Đoàn trực thuộc
A1,Chi đoàn A1,A,Chi đoàn
A2,Chi đoàn A2,A,Chi đoàn
B1,Chi đoàn B1,T,Chi đoàn
B2,Chi đoàn B2,T,Chi đoàn
"""
LEAVES = ("A1", "A2", "B1", "B2")
MONEY = "CD_QUA_TIEN"          # kind money: ceiling 10^15 đồng
PEOPLE = "BT_LLCT"             # kind people: 10^9 người
TURNS = "TK_SPTT_LUOT"         # kind turns: 10^11 lượt
COUNT = "CD_HIENMAU"           # kind count: 10^9


# ---------------------------------------------------------------- reading never raises

HOSTILE = [
    "4" + "0" * 399, "9" * 5000, "-" + "7" * 400, "1" * 400 + ",5", "1" + ".000" * 150, "5" * 40 + " triệu",
    "1e400", "1E308", "inf", "-inf", "nan", "Infinity", "1e308",
    float("inf"), float("-inf"), float("nan"), 1.7e308, -1.7e308, 1e16, 10 ** 400, -(10 ** 400),
    MAX_FIGURE + 1, "9.007.199.254.740.993",
]


@pytest.mark.parametrize("cell", HOSTILE, ids=lambda c: repr(c)[:24])
def test_parse_never_raises_nor_gives_a_figure_beyond_max(cell):
    p = parse_figure(cell)
    assert p.value is None and p.problem in ("number-too-large", "not-a-number")
    assert "e+" not in p.raw and len(p.raw) < 80       # readable, never 400 digits or "1e+400"


@pytest.mark.parametrize("cell,value", [(MAX_FIGURE, MAX_FIGURE), ("9.007.199.254.740.992", MAX_FIGURE),
                                        (1e15, 10 ** 15), ("2 tỷ", 2_000_000_000), ("0" * 60 + "5", 5)])
def test_largest_figures_are_still_read(cell, value):
    assert parse_figure(cell).value == value and not parse_figure(cell).problem


def test_infinity_and_nan_say_what_they_are():
    assert parse_figure(float("inf")).problem == "number-too-large"
    assert parse_figure(float("inf")).raw == "vô cùng lớn"
    assert parse_figure(float("nan")).problem == "not-a-number"
    assert "NaN" in parse_figure(float("nan")).raw


@pytest.mark.parametrize("v,text", [
    (1_234_567, "1.234.567"), (12.5, "12,5"), (10 ** 15, "1.000.000.000.000.000"),
    (10 ** 400, "1 × 10⁴⁰⁰, số có 401 chữ số"), (4 * 10 ** 399, "4 × 10³⁹⁹, số có 400 chữ số"),
    (1.7e308, "1,7 × 10³⁰⁸, số có 309 chữ số"), (-(10 ** 20), "-1 × 10²⁰, số có 21 chữ số"),
    (float("inf"), "vô cùng lớn"), (float("-inf"), "âm vô cùng"),
])
def test_readable(v, text):
    assert readable(v) == text


@pytest.mark.parametrize("v,out", [
    (float("inf"), None), (float("-inf"), None), (float("nan"), None), (10 ** 400, None), (-(10 ** 309), None),
    (1.7e308, 1.7e308), (MAX_FIGURE * 1000, MAX_FIGURE * 1000), (0, 0), (12.5, 12.5), ("1e400", "1e400"),
    (True, True), (None, None),
])
def test_finite(v, out):
    assert finite(v) == out if out is not None else finite(v) is None


def test_packing_huge_values_does_not_raise(cat2024):
    index = cat2024.code_index
    for huge in (10 ** 400, float("inf"), MAX_FIGURE + 1):
        values = dict.fromkeys(cat2024.codes, 1)
        values[COUNT] = huge
        packed = Figures.pack(index, values)
        assert packed[COUNT] == huge or math.isinf(huge)


def test_sums_never_become_infinite():
    assert _add(1.7e308, 1.7e308) is None
    assert _add(float("inf"), 1) is None
    assert _add(MAX_FIGURE, MAX_FIGURE) == 2 * MAX_FIGURE
    assert _add(None, 5) == 5


def test_writers_leave_what_no_cell_can_hold_blank():
    from batn.gsheets.write import safe_value
    from batn.xlsx.rowstream import _cell

    assert plain(float("inf")) is None and plain(10 ** 400) is None and plain(12.0) == 12
    assert safe_value(10 ** 400) == "" and safe_value(float("nan")) == "" and safe_value(7.0) == 7
    assert _cell("A1", 10 ** 400, 0, None) == "" and "<v>5</v>" in _cell("A1", 5, 0, None)


def test_report_phrases_say_nothing_infinite(cat2024):
    from batn.report.context import Phrases

    values = dict.fromkeys(cat2024.codes, 3)
    num, den = cat2024.ratios[0]
    values[num], values[den] = float("inf"), 10 ** 400
    ph = Phrases(cat2024, values)
    assert ph.so(num) == "0" and ph.tyle(num) == "0%"


# ---------------------------------------------------------------- catalogue ceilings

def test_shipped_catalogues_carry_ceilings_for_every_kind():
    for ref in ("3tn-2024", "3tn-2009"):
        cat = load_catalogue(ref)
        data = yaml.safe_load(catalogue_path(ref).read_text(encoding="utf-8"))
        assert set(data["ceilings"]) == set(DEFAULT_CEILINGS)
        assert cat.ceilings["money"] == 10 ** 15 and cat.ceilings["people"] == 10 ** 9
        assert all(1 <= cat.ceiling(i) <= MAX_FIGURE for i in cat.indicators)


def _catalogue_data(**changes) -> dict:
    data = yaml.safe_load(catalogue_path("3tn-2024").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def test_catalogue_without_ceilings_gets_the_defaults_and_an_indicator_its_own_max():
    data = _catalogue_data()
    del data["ceilings"]
    for row in data["indicators"]:
        if row["code"] == "TT_COSO_TONG":
            row["max"] = "100.000"
    cat = catalogue_from_dict(data)
    assert dict(cat.ceilings) == DEFAULT_CEILINGS
    assert cat.ceiling(cat["TT_COSO_TONG"]) == 100_000
    assert cat.ceiling(cat["TT_CBCCVC_TRE"]) == DEFAULT_CEILINGS["ratio_den"]
    part = catalogue_from_dict(_catalogue_data(ceilings={"money": 5_000_000_000}))
    assert part.ceiling(part[MONEY]) == 5_000_000_000 and part.ceiling(part[COUNT]) == DEFAULT_CEILINGS["count"]


@pytest.mark.parametrize("ceilings", [{"money": "nhiều"}, {"money": 0}, {"money": 2 ** 60}, {"tien": 5},
                                      {"people": -3}, {"people": 1.5}, ["money"]])
def test_bad_ceilings_are_refused_in_vietnamese(ceilings):
    with pytest.raises(CatalogueError) as e:
        catalogue_from_dict(_catalogue_data(ceilings=ceilings))
    assert "mức tối đa" in str(e.value) or "loại chỉ tiêu" in str(e.value)


def test_check_values_at_and_over_the_ceiling(cat2024):
    values = sample_values(cat2024, random.Random(5), 15)
    values[MONEY] = 10 ** 15                         # at the ceiling: fine
    values[PEOPLE] = 10 ** 9 + 1                     # just over
    values[TURNS] = MAX_FIGURE                       # far over, still a figure
    sub = Submission("A1", "2024", "3tn-2024", values, {}, source="a1.xlsx",
                     cells={c: f"{L.DATA_SHEET}!D{n}" for n, c in enumerate(cat2024.codes, start=10)})
    found = {f.indicator: f for f in check_values(sub, cat2024) if f.kind == "implausible-value"}
    assert set(found) == {PEOPLE, TURNS}
    assert found[PEOPLE].cell == sub.cells[PEOPLE] and found[PEOPLE].severity.value == "lỗi"
    assert "1.000.000.001" in found[PEOPLE].message and "1.000.000.000 người" in found[PEOPLE].message
    assert "9.007.199.254.740.992" in found[TURNS].message


def test_a_door_that_lets_huge_values_through_still_sums_nothing_infinite(cat2024, period2024, tmp_path):
    """Submissions built by a door that did not read through parse_figure: the ceilings catch them."""
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(tmp_path / "units.csv")
    rng = random.Random(11)
    subs = []
    for code in LEAVES:
        v = sample_values(cat2024, rng, 15)
        if code in ("A1", "B1"):
            v[COUNT] = 1.7e308
        subs.append(Submission(code, "2024", "3tn-2024", v, {}, source=f"{code}.xlsx"))
    cons = consolidate(subs, tree, cat2024, period2024)
    assert math.isfinite(cons.totals[COUNT])
    assert cons.totals[COUNT] == sum(s.values[COUNT] for s in subs if s.unit in ("A2", "B2"))
    assert {f.unit for f in cons.findings if f.kind == "implausible-value"} == {"A1", "B1"}
    from batn.xlsx.consolidated import write_consolidated

    _assert_every_number_finite(write_consolidated(cons, tmp_path / "t.xlsx"))


# ---------------------------------------------------------------- real files, the command line

@pytest.fixture
def world(tmp_path):
    """Write filled templates for the leaves into an inbox; consolidate it through `batn`."""
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    tree = load_units(tmp_path / "units.csv")
    period = load_period("2024")
    rng = random.Random(2024)
    clean = {code: sample_values(load_catalogue("3tn-2024"), rng, 15) for code in LEAVES}

    def send(inbox: Path, code: str, values: dict, catalogue=None) -> Path:
        path = write_template(inbox / f"{code}.xlsx", catalogue or load_catalogue("3tn-2024"), tree[code], period,
                              values=values)
        when = datetime(2024, 12, 10, 9, 0).timestamp()
        os.utime(path, (when, when))
        return path

    def run(inbox: Path, name: str, catalog: str = "3tn-2024"):
        out = tmp_path / f"{name}.xlsx"
        r = CliRunner().invoke(app, ["consolidate", str(inbox), "--units", str(tmp_path / "units.csv"),
                                     "--catalog", catalog, "--period", "2024", "--out", str(out), "--json"])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        assert r.exit_code in (0, 1), r.output
        assert "Traceback" not in r.output and "Error" not in r.output
        assert out.exists()
        return json.loads(r.stdout), out

    return tree, clean, send, run, tmp_path


def _assert_every_number_finite(path: Path) -> None:
    wb = load_workbook(path)
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                for v in row:
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        assert math.isfinite(float(v)), (ws.title, v)
                        assert abs(v) < 10 ** 17, (ws.title, v)
    finally:
        wb.close()
    return path


def _summary(path: Path) -> dict[str, dict[str, object]]:
    """Unit code -> {indicator code: figure} of "Tổng hợp theo đơn vị", plus "" for the total row."""
    wb = load_workbook(path, read_only=True)
    try:
        rows = list(wb[L.SUMMARY_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()
    codes = rows[1][3:]
    return {(r[0] or ""): dict(zip(codes, r[3:])) for r in rows[2:]}


CASES = {
    # unit -> {code: value} written over the unit's clean figures
    "400-digit text": {"A1": {COUNT: "4" + "0" * 399}},
    "two units at 1.7e308": {"A1": {COUNT: 1.7e308}, "B1": {COUNT: 1.69e308, TURNS: 1.5e308}},
    "1e400 as text": {"B2": {PEOPLE: "1e400"}},
    "money just over its ceiling": {"A2": {MONEY: 10 ** 15 + 1}, "B1": {MONEY: "1.000.000.000.000.500"}},
    "people and turns just over": {"A1": {PEOPLE: 1_000_000_001}, "B2": {TURNS: 100_000_000_001}},
    "far beyond every ceiling": {"A2": {TURNS: "9" * 5000}, "B2": {COUNT: -1.7e308}},
}


@pytest.mark.parametrize("case", list(CASES))
def test_consolidate_reports_the_cell_and_writes_the_workbook(world, case):
    tree, clean, send, run, tmp = world
    bad = CASES[case]
    base_inbox, inbox = tmp / "base", tmp / "inbox"
    for code in LEAVES:
        if code not in bad:
            send(base_inbox, code, clean[code])
        send(inbox, code, {**clean[code], **bad.get(code, {})})
    base, base_out = run(base_inbox, "base")
    data, out = run(inbox, "out")
    assert data["totals"] and all(v is None or math.isfinite(v) for v in data["totals"].values())

    errors = [f for f in data["findings"] if f["severity"] == "lỗi"]
    for unit, changed in bad.items():
        for code in changed:
            hit = [f for f in errors if f["unit"] == unit and f["indicator"] == code]
            assert len(hit) == 1, (unit, code, errors)
            assert hit[0]["kind"] in ("number-too-large", "implausible-value", "not-a-number", "negative")
            assert hit[0]["cell"].startswith(f"{L.DATA_SHEET}!D")
            assert "e+" not in hit[0]["message"] and "inf" not in hit[0]["message"]
    assert {f["unit"] for f in errors} == set(bad)

    summary, base_summary = _summary(_assert_every_number_finite(out)), _summary(base_out)
    for code in LEAVES:
        if code not in bad:
            assert summary[code] == base_summary[code], code      # clean units: unchanged
    for code in load_catalogue("3tn-2024").codes:
        # the root total: the clean units' plus the bad units' figures that were readable and plausible
        extra = sum(clean[u][code] for u, changed in bad.items() if code not in changed)
        assert data["totals"][code] == (base["totals"][code] or 0) + extra, code
    wb = load_workbook(out)
    try:
        status = {r[1]: r[4] for r in wb[L.STATUS_SHEET].iter_rows(min_row=4, values_only=True)}
    finally:
        wb.close()
    assert all(status[u] == HAS_ERRORS for u in bad)

    for suffix in (".txt", ".docx"):
        report = tmp / f"report{suffix}"
        r = CliRunner().invoke(app, ["report", str(out), "--out", str(report), "--units", str(tmp / "units.csv")])
        assert r.exit_code == 0 and r.exception is None, r.output
        assert report.stat().st_size > 0
    text = (tmp / "report.txt").read_text(encoding="utf-8")
    assert "inf" not in text.split() and "e+" not in text and "nan" not in text.split()


def test_money_at_its_ceiling_is_summed(world):
    tree, clean, send, run, tmp = world
    inbox = tmp / "inbox"
    for code in LEAVES:
        send(inbox, code, {**clean[code], MONEY: 10 ** 15 if code == "A1" else clean[code][MONEY]})
    data, out = run(inbox, "out")
    assert not [f for f in data["findings"] if f["kind"] in ("implausible-value", "number-too-large")]
    assert data["totals"][MONEY] == 10 ** 15 + sum(clean[c][MONEY] for c in LEAVES if c != "A1")
    assert _summary(_assert_every_number_finite(out))[""][MONEY] == data["totals"][MONEY]


def test_an_indicators_own_max_and_the_provinces_ceilings(world):
    """A province's catalogue: a lower money ceiling and TT_COSO_TONG at most 500 cơ sở."""
    tree, clean, send, run, tmp = world
    data = _catalogue_data(id="3tn-2024", ceilings={"money": 2_000_000_000})
    for row in data["indicators"]:
        if row["code"] == "TT_COSO_TONG":
            row["max"] = 500
    path = tmp / "tinh.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cat = load_catalogue(path)
    assert cat.ceiling(cat["TT_COSO_TONG"]) == 500
    inbox = tmp / "inbox"
    over = {"A1": {"TT_COSO_TONG": 501}, "B2": {MONEY: 2_000_000_001}}
    at = {"A2": {"TT_COSO_TONG": 500}, "B1": {MONEY: 2_000_000_000}}
    for code in LEAVES:
        send(inbox, code, {**clean[code], **over.get(code, {}), **at.get(code, {})}, catalogue=cat)
    result, out = run(inbox, "out", catalog=str(path))
    hits = {(f["unit"], f["indicator"]): f for f in result["findings"] if f["kind"] == "implausible-value"}
    assert set(hits) == {("A1", "TT_COSO_TONG"), ("B2", MONEY)}
    assert "500 cơ sở" in hits[("A1", "TT_COSO_TONG")]["message"]
    assert "2.000.000.001" in hits[("B2", MONEY)]["message"]
    assert result["totals"]["TT_COSO_TONG"] == 500 + clean["B1"]["TT_COSO_TONG"] + clean["B2"]["TT_COSO_TONG"]
    assert result["totals"][MONEY] == 2_000_000_000 + clean["A1"][MONEY] + clean["A2"][MONEY]
    _assert_every_number_finite(out)
