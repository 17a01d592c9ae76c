"""Acceptance: the 2013 report of seed 002, written again from filled unit workbooks.

Unit figures are split at random (fixed seed) over a three-level tree so that
they add up to the `seed_002_total` column of the 2009 specification; the
templates are generated, filled through their defined names, consolidated and
reported. The report must state every figure the way the seed does. The CSV
only decides how much each unit gets: the report's figures come from summing
the filled files.
"""
from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from batn.catalogue import load_catalogue
from batn.pipeline import consolidate_inbox, load_period, make_templates, report_from_workbook
from batn.units import load_units
from batn.xlsx.consolidated import write_consolidated

# The product owner's 2009 specification, copied into the repository (tests/data/catalogs/README.md)
SPEC = Path(__file__).resolve().parent / "data" / "catalogs" / "3tn-2009.csv"
# The seed states these in words; the units' amounts add up to a figure that reads the same way.
MONEY = {"ND_QUY_TIEN": 500_200_000, "ND_QUA_TIEN": 340_000_000,
         "ND_NHA_TIEN": 1_540_350_000, "ND_KHAM_TIEN": 700_400_000}

UNITS_CSV = """code,name,parent,level
TD_KG,Tỉnh Đoàn Kiên Giang,,Tỉnh Đoàn
HD_RG,Thành Đoàn Rạch Giá,TD_KG,Huyện Đoàn
HD_PQ,Huyện Đoàn Phú Quốc,TD_KG,Huyện Đoàn
DCA,Đoàn Công an tỉnh,TD_KG,Đoàn trực thuộc
CS_RG1,Đoàn phường Vĩnh Thanh Vân,HD_RG,Đoàn cơ sở
CS_RG2,Đoàn phường An Hòa,HD_RG,Đoàn cơ sở
CS_RG3,Đoàn UBND thành phố Rạch Giá,HD_RG,Đoàn cơ sở
CS_PQ1,Đoàn thị trấn Dương Đông,HD_PQ,Đoàn cơ sở
CS_PQ2,Đoàn xã Hàm Ninh,HD_PQ,Đoàn cơ sở
CS_CA1,Đoàn cơ sở Phòng Cảnh sát giao thông,DCA,Đoàn cơ sở
CS_CA2,Đoàn cơ sở Phòng Cảnh sát PCCC,DCA,Đoàn cơ sở
"""


def seed_totals() -> dict[str, int]:
    """The province figures of seed 002 (from the spec's seed_002_total column)."""
    totals = {}
    with open(SPEC, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            t = row["seed_002_total"].strip()
            if t.isdigit():
                totals[row["code"]] = int(t)
    totals.update(MONEY)
    return totals


def split(total: int, parts: int, rng: random.Random) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


def fill_by_name(path: Path, values: dict[str, object]) -> None:
    """Fill a template the way another tool would: through the workbook's defined names only."""
    wb = load_workbook(path)
    for code, value in values.items():
        for sheet, ref in wb.defined_names[code].destinations:
            wb[sheet][ref.replace("$", "")].value = value
    wb.save(path)


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed002")
    units_file = tmp / "units.csv"
    units_file.write_text(UNITS_CSV, encoding="utf-8")
    tree = load_units(units_file)
    cat = load_catalogue("3tn-2009")
    period = load_period("2009-2013")
    inbox = tmp / "inbox"
    make_templates(cat, tree, period, inbox)
    (inbox / "TD_KG.xlsx").unlink()        # the province consolidates; it sends nothing itself

    rng = random.Random(2013)
    senders = [c for c in tree.walk() if c != tree.root]
    per_unit: dict[str, dict[str, object]] = {c: {} for c in senders}
    for code, total in seed_totals().items():
        for unit, part in zip(senders, split(total, len(senders), rng)):
            per_unit[unit][code] = part
    for unit in senders:
        # 100% of Đoàn organisations registered: every unit reports equal parts.
        per_unit[unit]["CV_TOCHUC_DOAN"] = per_unit[unit]["CV_DK_VUNGMANH"] = rng.randint(1, 6)
        per_unit[unit]["ND_CS_TONG"] = per_unit[unit]["ND_CS_DANGKY"] = rng.randint(1, 3)
        fill_by_name(inbox / f"{unit}.xlsx", per_unit[unit])

    cons = consolidate_inbox(inbox, tree, cat, period)
    out = write_consolidated(cons, tmp / "tong_hop.xlsx")
    txt_path, doc = report_from_workbook(out, tmp / "bao_cao.txt", number="44A", on=date(2013, 6, 25))
    docx_path, _ = report_from_workbook(out, tmp / "bao_cao.docx", number="44A", on=date(2013, 6, 25))
    return cons, per_unit, txt_path.read_text(encoding="utf-8"), docx_path


def test_totals_are_sums_of_the_filled_files(seed_run):
    cons, per_unit, _, _ = seed_run
    for code in seed_totals():
        assert cons.totals[code] == sum(v[code] for v in per_unit.values()), code
    assert cons.totals["CV_VIPHAM"] == 0
    assert len(cons.sent) == len(cons.expected) == 10


@pytest.mark.parametrize("phrase", [
    "243 cuộc", "8.964 lượt", "1.644 đêm", "15.868 lượt", "844 ĐVTN", "67 chi đoàn",
    "256 cuộc hội thảo", "167 hoạt động", "trên 500 triệu đồng", "56 đợt", "2.170 cán bộ",
    "35 cống ngăn mặn", "20 mố cầu", "45 cây cầu", "15 sân bóng chuyền",
    "3.065 phần quà trị giá 340 triệu đồng", "215 căn nhà", "trên 1 tỷ 540 triệu đồng",
    "36.009 lượt người", "trên 700 triệu đồng", "6.812 đơn vị máu", "35 công trình",
    "2.179 cán bộ, công chức", "56 cuộc tuyên truyền", "759 lượt",
    "Không có cán bộ, ĐVTN vi phạm", "đạt 100% tổ chức Đoàn", "100% cơ sở Đoàn",
    "có 10/10 đơn vị gửi báo cáo",
])
def test_report_states_every_seed_figure(seed_run, phrase):
    _, _, text, _ = seed_run
    assert phrase in " ".join(text.split())


def test_report_document_format(seed_run):
    _, _, text, docx_path = seed_run
    assert "Số: 44A-BC/TĐTN" in text
    assert "ngày 25 tháng 6 năm 2013" in text
    assert "giai đoạn 2009 - 2013" in text
    assert text.rstrip().count("./.") == 1
    body = [p.text for p in Document(docx_path).paragraphs]
    headings = [t for t in body if t[:3] in ("I. ", "II.", "III")]
    assert headings[:3] == ["I. CÔNG TÁC TRIỂN KHAI", "II. KẾT QUẢ THỰC HIỆN", "III. NHẬN XÉT, ĐÁNH GIÁ"]
    # 2009 set: công việc / nhân dân / bản thân
    assert [t for t in body if t[:3] in ("1. ", "2. ", "3. ")][:3] == [
        "1. Trách nhiệm với công việc", "2. Trách nhiệm với nhân dân", "3. Trách nhiệm với bản thân"]
