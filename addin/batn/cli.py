"""`batn` on the command line: each subcommand opens its inputs, calls one pipeline function,
and turns library errors into a clear Vietnamese message and an exit status
(0 done, 1 the input has lỗi, 2 the command could not run)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import cliutil, pipeline
from .catalogue import load_catalogue
from .checks import Expectation
from .cliutil import (HAS_ERRORS, OK, clear_errors, consolidation_dict, fail, finding_dict, load_inputs, out,
                      parse_date, progress_bar, show_consolidation, terminal)
from .model import Severity
from .safeio import consolidated_name_problem
from .textsafe import json_ready, shown

app = cliutil.VietnameseTyper(help="batn: biểu mẫu, kiểm tra, tổng hợp và báo cáo phong trào “3 trách nhiệm”.",
                              no_args_is_help=True, add_completion=False)


@app.command()
def template(
    catalog: str = typer.Option(..., "--catalog", help="Bộ chỉ tiêu: mã (3tn-2024) hoặc tệp .yaml/.xlsx"),
    units: Path = typer.Option(..., "--units", help="Danh sách đơn vị (CSV hoặc YAML)"),
    period: str = typer.Option(..., "--period", help="Kỳ báo cáo: 2024, 2024-H1, 2009-2013"),
    out_dir: Path = typer.Option(..., "--out", help="Thư mục ghi biểu mẫu"),
    unit: Optional[str] = typer.Option(None, "--unit", help="Chỉ tạo cho một đơn vị"),
    period_config: Optional[Path] = typer.Option(None, "--period-config", help="Tệp thiết lập kỳ báo cáo (TOML)"),
) -> None:
    """Tạo biểu mẫu Excel cho từng đơn vị: <THƯ MỤC>/<MÃ ĐƠN VỊ>.xlsx."""
    with clear_errors():
        tree, cat, per = load_inputs(units, catalog, period, period_config)
        with progress_bar("Tạo biểu mẫu") as prog:
            files = pipeline.make_templates(cat, tree, per, out_dir, only=unit, progress=prog)
    out.print(f"Đã tạo {len(files)} biểu mẫu trong {terminal(shown(out_dir))}")


@app.command()
def validate(
    files: List[Path] = typer.Argument(..., metavar="TỆP", help="Các tệp báo cáo (.xlsx), hoặc thư mục chứa chúng"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
    annotate: bool = typer.Option(False, "--annotate", help="Ghi bản sao <tên>.kiem-tra.xlsx có tô màu, ghi chú"),
    catalog: Optional[str] = typer.Option(None, "--catalog", help="Bộ chỉ tiêu phải dùng (mã hoặc tệp .yaml/.xlsx)"),
    period: Optional[str] = typer.Option(None, "--period", help="Kỳ báo cáo phải đúng: 2024, 2024-H1, 2009-2013"),
    units: Optional[Path] = typer.Option(None, "--units", help="Danh sách đơn vị để kiểm tra mã đơn vị"),
    period_config: Optional[Path] = typer.Option(None, "--period-config", help="Tệp thiết lập kỳ báo cáo (TOML)"),
) -> None:
    """Kiểm tra các tệp báo cáo; mã thoát 0: không có lỗi, 1: có lỗi, 2: không chạy được."""
    missing = [str(f) for f in files if not f.exists()]
    if missing:     # a name typed wrong: the command cannot run, as with consolidate's missing folder
        fail(f"Không có tệp {', '.join(missing)}")
    with clear_errors():
        tree = pipeline.load_tree(units) if units else None
        cat = load_catalogue(catalog) if catalog else None
        per = pipeline.load_period(period, period_config) if period else None    # 2025-Q1: exit 2, as template
        expect = Expectation(period=per.id if per else None, catalogue=cat.id if cat else None, units=tree)
        with progress_bar("Kiểm tra", quiet=as_json) as prog:
            checks = pipeline.validate_files(files, expect, catalogue=cat, progress=prog)
        annotated = {}
        if annotate:
            for c in (c for c in checks if c.findings):      # a clean file needs no coloured copy
                copy = pipeline.annotate_file(c)
                if copy:
                    annotated[str(c.path)] = str(copy)
    n_err = sum(f.severity == Severity.ERROR for c in checks for f in c.findings)
    n_warn = sum(f.severity == Severity.WARNING for c in checks for f in c.findings)
    if as_json:
        print(json.dumps(json_ready({
            "files": [{"file": shown(c.path), "unit": c.submission.unit, "period": c.submission.period,
                       "findings": [finding_dict(f) for f in c.findings],
                       "annotated": shown(annotated.get(str(c.path))) or None} for c in checks],
            "errors": n_err, "warnings": n_warn}), ensure_ascii=False, indent=2))
    else:
        for c in checks:
            if c.findings and all(f.kind == "skipped-file" for f in c.findings):
                tag = "[yellow]bỏ qua[/]"
            else:
                tag = "[red]có lỗi[/]" if any(f.severity == Severity.ERROR for f in c.findings) else "[green]đạt[/]"
            out.print(f"[bold]{terminal(shown(c.path))}[/] ({terminal(c.submission.unit or 'chưa rõ đơn vị')}): {tag}")
            for f in c.findings:
                colour = "red" if f.severity == Severity.ERROR else "yellow"
                where = f"{terminal(f.cell)} " if f.cell else ""
                out.print(f"  [{colour}]{f.severity}[/] {where}{terminal(f.message)}")
            if str(c.path) in annotated:
                out.print(f"  → bản đã tô màu: {terminal(shown(annotated[str(c.path)]))}")
        out.print(f"Tổng: {len(checks)} tệp, {n_err} lỗi, {n_warn} cảnh báo")
        if not checks:
            out.print(f"[yellow]Không có tệp nào để kiểm tra[/] trong {terminal(', '.join(shown(f) for f in files))}")
    raise typer.Exit(HAS_ERRORS if n_err else OK)


@app.command()
def consolidate(
    inbox: Path = typer.Argument(..., metavar="THƯ_MỤC", help="Thư mục chứa các tệp báo cáo nhận được"),
    units: Path = typer.Option(..., "--units", help="Danh sách đơn vị (CSV hoặc YAML)"),
    catalog: str = typer.Option(..., "--catalog", help="Bộ chỉ tiêu: mã (3tn-2024) hoặc tệp .yaml/.xlsx"),
    period: str = typer.Option(..., "--period", help="Kỳ báo cáo: 2024, 2024-H1, 2009-2013"),
    root: Optional[str] = typer.Option(None, "--root", help="Tổng hợp từ đơn vị này (mặc định: đơn vị gốc)"),
    out_file: Path = typer.Option(..., "--out", help="Tệp tổng hợp .xlsx"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
    period_config: Optional[Path] = typer.Option(None, "--period-config", help="Tệp thiết lập kỳ báo cáo (TOML)"),
    engine: str = typer.Option("local", "--engine", help="local (các nhân của máy này) hoặc dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Địa chỉ Dask scheduler, ví dụ tcp://10.0.0.5:8786"),
    workers: Optional[int] = typer.Option(None, "--workers", help="Số tiến trình đọc tệp (mặc định: số nhân)"),
    ledger: Optional[Path] = typer.Option(None, "--ledger",
                                          help="Sổ theo dõi (.sqlite3): cảnh báo số liệu bất thường so với các kỳ trước, "
                                               "trạng thái trả lại / duyệt của từng báo cáo"),
    approved_only: bool = typer.Option(False, "--chi-da-duyet",
                                       help="Chỉ tổng hợp báo cáo đã duyệt (cần --ledger)"),
    pdf: bool = typer.Option(False, "--pdf", help="Xuất thêm bản PDF để in (cần LibreOffice), cạnh tệp .xlsx"),
    previous: Optional[Path] = typer.Option(None, "--previous",
                                            help="Tệp tổng hợp của kỳ trước: biểu đồ so sánh với kỳ trước"),
    config: Optional[Path] = typer.Option(None, "--config",
                                          help="Tệp thiết lập văn bản (TOML): cơ quan ban hành, nơi ban hành, người ký"),
    number: Optional[str] = typer.Option(None, "--number", help="Số văn bản ghi ở trang bìa, ví dụ 44A"),
    on: Optional[str] = typer.Option(None, "--date", help="Ngày ghi ở trang bìa, ví dụ 25/06/2026 (mặc định: ngày tổng hợp)"),
) -> None:
    """Tổng hợp số liệu các đơn vị; tệp hỏng được báo lỗi, không làm dừng việc tổng hợp."""
    from .previous import PreviousError
    from .startup import load_writer
    from .xlsx.pdf import PdfError

    with clear_errors(PreviousError, PdfError):
        if not inbox.is_dir():
            fail(f"{shown(inbox)} là một tệp; cần thư mục chứa các báo cáo" if inbox.is_file()
                 else f"Không có thư mục {shown(inbox)}")
        if consolidated_name_problem(out_file):      # said now, not after every file is read
            fail(f"Tệp tổng hợp (--out) phải có đuôi .xlsx: {shown(out_file)}")
        if out_file.is_dir():
            fail(f"{shown(out_file)} là thư mục; --out cần tên một tệp .xlsx")
        tree, cat, per = load_inputs(units, catalog, period, period_config)
        if root and root not in tree:
            fail(f"Mã đơn vị '{root}' không có trong danh sách đơn vị")
        if ledger is not None and not ledger.is_file():
            fail(f"Không có sổ theo dõi {shown(ledger)}")
        if approved_only and ledger is None:
            fail("--chi-da-duyet cần --ledger (sổ theo dõi ghi các báo cáo đã duyệt)")
        with progress_bar("Đọc báo cáo", quiet=as_json) as prog:
            cons = pipeline.consolidate_inbox(inbox, tree, cat, per, root=root, progress=prog, engine=engine,
                                              workers=workers, scheduler=scheduler, ledger=ledger,
                                              approved_only=approved_only, meanwhile=load_writer)
        if ledger is not None:
            pipeline.warn_outliers(cons, ledger)
        paper = pipeline.consolidation_paper(cat, per, config=config, number=number, on=parse_date(on),
                                             previous=previous, period_config=period_config,
                                             parent=tree.parent_of(root or tree.root))
        from .xlsx.consolidated import write_consolidated      # loaded while the files were read

        write_consolidated(cons, out_file, paper)
        pdf_file = None
        if pdf:
            from .xlsx.pdf import workbook_pdf

            pdf_file = workbook_pdf(out_file)
    n_err = sum(f.severity == Severity.ERROR for f in cons.findings)
    if as_json:
        print(json.dumps({"out": shown(out_file), **({"pdf": shown(pdf_file)} if pdf_file else {}),
                          **consolidation_dict(cons)}, ensure_ascii=False, indent=2, default=str))
    else:
        show_consolidation(cons)
        out.print(f"Tệp tổng hợp: {terminal(shown(out_file))}")
        if pdf_file:
            out.print(f"Bản PDF để in: {terminal(shown(pdf_file))}")
    raise typer.Exit(HAS_ERRORS if n_err else OK)


@app.command()
def report(
    consolidated: Path = typer.Argument(..., metavar="TỆP_TỔNG_HỢP", help="Tệp tổng hợp .xlsx (hoặc biểu mẫu đã điền)"),
    out_file: Path = typer.Option(..., "--out", help="Tệp báo cáo .docx, .pdf, .txt hoặc .md"),
    number: Optional[str] = typer.Option(None, "--number", help="Số văn bản, ví dụ 44A"),
    on: Optional[str] = typer.Option(None, "--date", help="Ngày ban hành, ví dụ 25/06/2026 (mặc định: hôm nay)"),
    config: Optional[Path] = typer.Option(None, "--config", help="Tệp thiết lập văn bản (TOML)"),
    units: Optional[Path] = typer.Option(None, "--units", help="Danh sách đơn vị (lấy nơi ban hành, người ký)"),
    previous: Optional[Path] = typer.Option(None, "--previous",
                                            help="Tệp tổng hợp (hoặc biểu mẫu đã điền) của kỳ trước, để so sánh"),
    period_config: Optional[Path] = typer.Option(None, "--period-config", help="Tệp thiết lập kỳ báo cáo (TOML)"),
    ledger: Optional[Path] = typer.Option(None, "--ledger",
                                          help="Sổ theo dõi (.sqlite3): so sánh với kỳ trước đã ghi trong sổ "
                                               "(khi không có --previous)"),
    catalog: Optional[str] = typer.Option(None, "--catalog",
                                          help="Bộ chỉ tiêu (mã hoặc tệp .yaml/.xlsx); mặc định: bộ chỉ tiêu kèm trong tệp tổng hợp"),
) -> None:
    """Viết văn bản BÁO CÁO theo thể thức của Đoàn từ tệp tổng hợp (.pdf: xuất qua LibreOffice)."""
    from .report.pdf import PdfError

    if out_file.suffix.lower() not in pipeline.REPORT_SUFFIXES:
        fail("Tệp báo cáo phải có đuôi .docx, .pdf, .txt hoặc .md")
    with clear_errors(PdfError):
        path, doc = pipeline.report_from_workbook(consolidated, out_file, number=number, on=parse_date(on),
                                                  config=config, units=units, previous=previous,
                                                  period_config=period_config, ledger=ledger, catalogue=catalog)
    for w in doc.warnings:
        out.print(f"[yellow]Cảnh báo:[/] {terminal(w)}")
    out.print(f"Đã viết báo cáo: {terminal(shown(path))}")


@app.command()
def demo(out_dir: Path = typer.Option(Path("batn-demo"), "--out", help="Thư mục ghi kết quả demo")) -> None:
    """Chạy thử trọn quy trình trên một tỉnh mẫu (31 đơn vị, 3 cấp, bộ chỉ tiêu 2024)."""
    from rich.table import Table

    from .demo import run_demo

    with clear_errors():
        with progress_bar("Tổng hợp tỉnh mẫu") as prog:
            r = run_demo(out_dir, progress=prog)
    t = Table("Kết quả", "Đường dẫn", title="batn demo — Tỉnh Đoàn mẫu, 6 tháng đầu năm 2026")
    t.add_row("Danh sách đơn vị", str(r.units_file))
    t.add_row("Biểu mẫu trống", str(r.templates))
    t.add_row("Báo cáo các đơn vị gửi lên", str(r.inbox))
    t.add_row("Tệp tổng hợp", str(r.consolidated))
    t.add_row("Báo cáo (.docx)", str(r.report_docx))
    t.add_row("Báo cáo (văn bản)", str(r.report_text))
    out.print(t)
    out.print("Những lỗi cài sẵn để minh họa:")
    for p in r.planted:
        out.print(f"  - {p}")


def _register_doors() -> None:
    """Commands that live with their door: the scheduled run, the ledger history, Google Sheets."""
    from .gsheets.cli import gsheets_app
    from .review_cli import register as register_review
    from .run_cli import register

    register(app)
    register_review(app)
    app.add_typer(gsheets_app, name="gsheets")
    from .catalogue_cli import catalogue_app

    app.add_typer(catalogue_app, name="catalogue")


_register_doors()


def main() -> None:  # pragma: no cover
    """The `batn` program (pyproject's [project.scripts]): the command, then a quick exit (startup.run_command)."""
    from .startup import run_command

    run_command(app)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
