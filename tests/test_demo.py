"""`batn demo`, the README's main command, end to end."""
from __future__ import annotations

from docx import Document
from typer.testing import CliRunner

from batn.cli import app
from batn.pipeline import load_period
from batn.rollup import HAS_ERRORS, LATE, MISSING
from batn.xlsx.reader import read_submission


def test_demo_runs_and_reports(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    d = tmp_path / "d"
    consolidated = d / "TongHop_TD_AG_2026-H1.xlsx"
    sub = read_submission(consolidated)
    assert sub.unit == "TD_AG" and sub.is_total and not sub.has_errors
    text = (d / "BaoCao_TD_AG_2026-H1.txt").read_text(encoding="utf-8")
    assert "Tính đến ngày 22/6/2026, có 29/30 đơn vị gửi báo cáo (01 đơn vị nộp muộn); chưa nhận được báo cáo của Chi đoàn khu phố Đông Xuyên." in text
    assert "BCH ĐOÀN TỈNH AN GIANG" in text and "Số: 25-BC/TĐTN" in text and text.rstrip().count("./.") == 1
    paras = [p.text for p in Document(d / "BaoCao_TD_AG_2026-H1.docx").paragraphs]
    assert "II. KẾT QUẢ THỰC HIỆN" in paras
    # the planted mistakes show up where a clerk looks
    from openpyxl import load_workbook
    ws = load_workbook(consolidated)["Tình hình nộp báo cáo"]
    status = {ws.cell(r, 2).value: ws.cell(r, 5).value for r in range(4, ws.max_row + 1)}
    assert status["CD_LX_DH"] == MISSING and status["DCS_CSGT"] == LATE
    assert status["DCS_STP"] == HAS_ERRORS and status["DCS_SYT"] == HAS_ERRORS
    # the report counts the lỗi of the units' reports, not the stray note saved as .xlsx (nobody's report)
    check = load_workbook(consolidated)["Kết quả kiểm tra"]
    rows = [r for r in check.iter_rows(min_row=2, values_only=True) if len(r) > 2 and r[1] == "lỗi"]
    stray = [r for r in rows if not r[2]]
    assert stray and rows
    assert f"một số báo cáo còn sai sót về số liệu ({len(rows) - len(stray):02d} chỗ phải kiểm tra, điều chỉnh)" in text
    assert len(list((d / "bieu_mau").glob("*.xlsx"))) == 31
    # the scheduled run's configuration comes with it, ready for `batn run DIR/batn-run.toml`
    from batn.runconfig import load_config
    cfg = load_config(d / "batn-run.toml")
    assert cfg.units.resolve() == (d / "don_vi.csv").resolve() and cfg.period == "2026-H1"
    assert load_period("2026-H1").label == "6 tháng đầu năm 2026"
