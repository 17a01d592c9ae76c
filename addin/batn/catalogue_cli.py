"""`batn catalogue …`: a province's own indicators, authored in a spreadsheet (the XLSForm way).

    batn catalogue new --out bo_chi_tieu.xlsx [--from 3tn-2024]
    batn catalogue check bo_chi_tieu.xlsx          (0 no lỗi, 1 lỗi, 2 cannot run)
    batn catalogue build bo_chi_tieu.xlsx --out bo_chi_tieu.yaml     (and back: .yaml -> .xlsx)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from . import cliutil
from .cliutil import HAS_ERRORS, OK, clear_errors, fail, out, terminal
from .model import Severity
from .textsafe import shown

catalogue_app = cliutil.VietnameseTyper(help="Bộ chỉ tiêu: lập bằng bảng tính, kiểm tra, chuyển sang YAML và ngược lại.",
                                        no_args_is_help=True, add_completion=False)


@catalogue_app.command("new")
def new(
    out_file: Path = typer.Option(..., "--out", help="Tệp bảng tính lập bộ chỉ tiêu (.xlsx)"),
    start: Optional[str] = typer.Option(None, "--from",
                                        help="Bắt đầu từ một bộ chỉ tiêu có sẵn (mã như 3tn-2024, hoặc tệp .yaml/.xlsx)"),
) -> None:
    """Tạo tệp bảng tính để lập bộ chỉ tiêu (trang Chỉ tiêu, Phần, Câu báo cáo, Báo cáo, Hướng dẫn)."""
    from .catalogue import load_catalogue
    from .xlsx.catalogue_book import write_authoring

    if out_file.suffix.lower() != ".xlsx":
        fail("Tệp lập bộ chỉ tiêu phải có đuôi .xlsx")
    with clear_errors():
        cat = load_catalogue(start) if start else None
        write_authoring(out_file, cat)
    out.print(f"Đã tạo {terminal(shown(out_file))}. Điền trang “Chỉ tiêu”, rồi chạy: "
              f"batn catalogue check {terminal(shown(out_file))}")


def _problems(path: Path):
    from .xlsx.catalogue_book import check_authoring

    if not path.exists():
        fail(f"Không có tệp {shown(path)}")
    if path.suffix.lower() not in (".xlsx", ".yaml", ".yml"):
        fail("Bộ chỉ tiêu là tệp .xlsx (lập bằng bảng tính) hoặc .yaml")
    with clear_errors():
        return check_authoring(path)


@catalogue_app.command("check")
def check(
    file: Path = typer.Argument(..., metavar="TỆP", help="Tệp bộ chỉ tiêu (.xlsx hoặc .yaml)"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
) -> None:
    """Kiểm tra bộ chỉ tiêu: nêu trang, dòng, cột của từng lỗi; mã thoát 0: không có lỗi, 1: có lỗi, 2: không chạy được."""
    problems = _problems(file)
    n_err = sum(p.severity == Severity.ERROR for p in problems)
    n_warn = len(problems) - n_err
    if as_json:
        print(json.dumps({"file": shown(file), "errors": n_err, "warnings": n_warn,
                          "problems": [{"severity": str(p.severity), "sheet": p.sheet, "row": p.row, "column": p.column,
                                        "message": p.message} for p in problems]}, ensure_ascii=False, indent=2))
    else:
        for p in problems:
            colour = "red" if p.severity == Severity.ERROR else "yellow"
            at = p.where()
            out.print(f"[{colour}]{p.severity}[/] {terminal(at + ': ' if at else '')}{terminal(p.message)}")
        out.print(f"{terminal(shown(file))}: {n_err} lỗi, {n_warn} cảnh báo"
                  + ("" if n_err else " — dùng được: --catalog " + terminal(shown(file))))
    raise typer.Exit(HAS_ERRORS if n_err else OK)


@catalogue_app.command("build")
def build(
    file: Path = typer.Argument(..., metavar="TỆP", help="Bộ chỉ tiêu nguồn: .xlsx, .yaml hoặc mã (3tn-2024)"),
    out_file: Path = typer.Option(..., "--out", help="Tệp ghi ra: .yaml (từ bảng tính) hoặc .xlsx (từ YAML)"),
) -> None:
    """Chuyển bộ chỉ tiêu lập bằng bảng tính sang YAML, hoặc YAML sang bảng tính để sửa."""
    from .catalogue import CatalogueError, dump_yaml, load_catalogue
    from .safeio import atomic_write_text
    from .xlsx.catalogue_book import write_authoring

    suffix = out_file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".xlsx"):
        fail("Tệp ghi ra phải có đuôi .yaml hoặc .xlsx")
    with clear_errors():
        try:
            cat = load_catalogue(file)
        except CatalogueError as e:
            out.print(f"[red]lỗi[/] {terminal(str(e))}")
            raise typer.Exit(HAS_ERRORS) from None
        if suffix == ".xlsx":
            write_authoring(out_file, cat)
        else:
            atomic_write_text(out_file, dump_yaml(cat))
    out.print(f"Đã ghi bộ chỉ tiêu {terminal(cat.id)} ({len(cat.indicators)} chỉ tiêu) vào {terminal(shown(out_file))}")
