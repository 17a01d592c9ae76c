"""`batn gsheets ...`: the shared Google Sheet on the command line (dang-nhap, dang-xuat, setup,
consolidate, chot).

The main app adds this sub-app with `app.add_typer(gsheets_app, name="gsheets")`. Each command
opens its inputs, calls one library function and turns errors into one clear Vietnamese line and
an exit status (0 done, 1 the figures have lỗi, 2 the command could not run). gspread and
google-auth are imported only when a command runs, so `batn` works without them installed.
"""
from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..cliutil import HAS_ERRORS, OK, consolidation_dict, fail, load_inputs, parse_date, show_consolidation
from ..cliutil import VietnameseTyper
from ..cliutil import clear_errors as _clear_errors

gsheets_app = VietnameseTyper(help="Bảng tính Google dùng chung: tạo bảng tính, tổng hợp và ghi kết quả trở lại.",
                              no_args_is_help=True, add_completion=False)
out = Console(soft_wrap=True)   # long URLs stay on one line, copyable
err = Console(stderr=True, soft_wrap=True)

CREDENTIALS_HELP = ("Máy chủ: tệp khóa JSON của tài khoản dịch vụ Google (mặc định: biến môi trường "
                    "BATN_GOOGLE_CREDENTIALS; không có thì dùng tài khoản đã đăng nhập bằng dang-nhap)")
API_BASE_HELP = "Chỉ để kiểm thử: địa chỉ máy chủ giả lập Sheets API trên máy này (BATN_SHEETS_API_BASE)"


@contextmanager
def clear_errors() -> Iterator[None]:
    try:
        from .quota import GoogleDoorError
    except ImportError:
        fail("Chưa cài thư viện Google Sheets: pip install 'batn[google]' (gspread, google-auth)")
    with _clear_errors(GoogleDoorError):
        yield


@gsheets_app.command("dang-nhap")
def dang_nhap(
    khong_trinh_duyet: bool = typer.Option(False, "--khong-trinh-duyet",
                                           help="Máy không có trình duyệt: in địa chỉ để mở ở máy khác, rồi dán "
                                                "địa chỉ trình duyệt chuyển tới vào đây"),
    client: Optional[Path] = typer.Option(None, "--client", help="Tệp mã ứng dụng OAuth loại “Ứng dụng máy tính” "
                                                                "(mặc định: tệp kèm theo batn)"),
    all_spreadsheets: bool = typer.Option(False, "--all-spreadsheets",
                                          help="Xin thêm quyền mọi bảng tính (chỉ khi cần dùng bảng tính tự tạo "
                                               "bằng tay; mặc định batn chỉ có quyền với bảng tính do batn tạo)"),
    hop_thu: bool = typer.Option(False, "--hop-thu",
                                 help="Xin thêm quyền đọc hộp thư Gmail (nguồn type = \"imap\" với oauth = true "
                                      "của batn run)"),
    api_base: Optional[str] = typer.Option(None, "--api-base", hidden=True, help=API_BASE_HELP),
) -> None:
    """Đăng nhập bằng tài khoản Google của mình (không cần Google Cloud): batn được tạo bảng tính trong Google Drive của bạn và chia sẻ cho các đơn vị. Làm một lần trên mỗi máy."""
    with clear_errors():
        from .signin import load_client, sign_in

        done = sign_in(load_client(client), all_spreadsheets=all_spreadsheets, mail=hop_thu,
                       browser=not khong_trinh_duyet, api_base=api_base)
    out.print(f"Đã đăng nhập Google: {escape(done.account or '(không rõ e-mail)')}")
    out.print(escape(f"Lưu đăng nhập tại {done.path} (chỉ tài khoản máy tính này đọc được). "
                     "Đăng xuất: batn gsheets dang-xuat."))


@gsheets_app.command("dang-xuat")
def dang_xuat() -> None:
    """Xóa đăng nhập Google đã lưu trên máy này."""
    with clear_errors():
        from .signin import sign_out

        gone = sign_out()
    out.print(escape(f"Đã xóa đăng nhập {gone}." if gone else "Máy này chưa đăng nhập Google."))
    out.print("Muốn thu hồi hẳn quyền của batn: https://myaccount.google.com/permissions")


@gsheets_app.command()
def chot(
    spreadsheet: str = typer.Argument(..., metavar="BẢNG_TÍNH", help="Bảng tính dùng chung (mã hoặc đường liên kết)"),
    catalog: str = typer.Option(..., "--catalog", help="Bộ chỉ tiêu, ví dụ 3tn-2024"),
    mo_lai: bool = typer.Option(False, "--mo-lai", help="Mở lại: trả quyền nhập cho các đơn vị, bỏ mốc chốt"),
    credentials: Optional[Path] = typer.Option(None, "--credentials", help=CREDENTIALS_HELP),
    api_base: Optional[str] = typer.Option(None, "--api-base", hidden=True, help=API_BASE_HELP),
) -> None:
    """Chốt số liệu khi hết hạn: khóa mọi vùng nhập của các đơn vị và ghi mốc chốt; từ đó mọi lần tổng hợp báo đơn vị nào có số liệu khác lúc chốt là “sửa sau hạn”."""
    with clear_errors():
        from ..catalogue import load_catalogue
        from .auth import connect
        from .deadline import lock_spreadsheet

        cat = load_catalogue(catalog)
        conn = connect(credentials, api_base=api_base)
        res = lock_spreadsheet(conn, spreadsheet, cat, unlock=mo_lai)
    if mo_lai:
        out.print(f"{'Đã mở lại' if res.changed else 'Bảng tính chưa chốt, không có gì để mở'}: {res.url}")
    else:
        out.print(f"{'Đã chốt' if res.changed else 'Đã chốt từ trước'} số liệu lúc {res.at}: {len(res.units)} đơn vị "
                  f"không còn sửa được vùng nhập. {res.url}")
        if res.edited_after:
            out.print(f"[yellow]Sửa sau hạn:[/] {escape(', '.join(res.edited_after))}")
    out.print(conn.counter.summary())


@gsheets_app.command()
def setup(
    units: Path = typer.Option(..., "--units", help="Danh sách đơn vị (CSV hoặc YAML)"),
    catalog: str = typer.Option(..., "--catalog", help="Bộ chỉ tiêu, ví dụ 3tn-2024"),
    period: str = typer.Option(..., "--period", help="Kỳ báo cáo: 2024, 2024-H1, 2009-2013"),
    unit: str = typer.Option(..., "--unit", help="Đơn vị tổng hợp; bảng tính gồm các đơn vị trực thuộc"),
    spreadsheet: Optional[str] = typer.Option(None, "--spreadsheet",
                                              help="Bảng tính có sẵn (mã hoặc đường liên kết); bỏ trống để tạo mới"),
    layout: str = typer.Option("tabs", "--layout", help="tabs: mỗi đơn vị một trang; rows: mỗi đơn vị một dòng"),
    only: Optional[str] = typer.Option(None, "--only", help="Chỉ một đơn vị (mỗi đơn vị một bảng tính riêng)"),
    all_levels: bool = typer.Option(False, "--all-levels", help="Gồm mọi cấp bên dưới, không chỉ cấp trực thuộc"),
    editors: Optional[Path] = typer.Option(None, "--editors",
                                           help="CSV code,email: người nhập của từng đơn vị (mặc định: cột contact)"),
    share: List[str] = typer.Option([], "--share", help="Người cùng quản lý (hoặc tài khoản dịch vụ của máy chủ chạy "
                                                        "batn run): được chia sẻ và sửa được cả vùng của batn "
                                                        "(lặp lại được)"),
    title: Optional[str] = typer.Option(None, "--title", help="Tên bảng tính khi tạo mới"),
    credentials: Optional[Path] = typer.Option(None, "--credentials", help=CREDENTIALS_HELP),
    period_config: Optional[Path] = typer.Option(None, "--period-config", help="Tệp thiết lập kỳ báo cáo (TOML)"),
    api_base: Optional[str] = typer.Option(None, "--api-base", hidden=True, help=API_BASE_HELP),
) -> None:
    """Tạo mới hoặc cập nhật bảng tính dùng chung: trang hướng dẫn, trang/dòng của từng đơn vị, kiểm tra dữ liệu nhập và khóa để mỗi đơn vị chỉ sửa được ô của mình."""
    with clear_errors():
        from .auth import connect
        from .setup import load_editors, setup_spreadsheet

        tree, cat, per = load_inputs(units, catalog, period, period_config)
        who = load_editors(editors) if editors else None
        conn = connect(credentials, creating=spreadsheet is None, api_base=api_base)
        res = setup_spreadsheet(conn, tree=tree, catalogue=cat, period=per, unit=unit, layout=layout,
                                spreadsheet=spreadsheet, editors=who, share=share, title=title, only=only,
                                all_levels=all_levels)
    out.print(f"{'Đã tạo' if res.created else 'Đã cập nhật'} bảng tính: {res.url}")
    out.print(f"Cách bố trí: {'mỗi đơn vị một trang' if res.layout == 'tabs' else 'mỗi đơn vị một dòng'}; "
              f"{len(res.units)} đơn vị; thêm {len(res.tabs_added)} trang.")
    if res.shared:
        out.print(escape(f"Đã chia sẻ (quyền Người chỉnh sửa) cho {len(res.shared)} địa chỉ: {', '.join(res.shared)}"))
    for w in res.warnings:
        out.print(f"[yellow]Cảnh báo:[/] {escape(w)}")
    out.print(conn.counter.summary())


@gsheets_app.command()
def consolidate(
    spreadsheets: List[str] = typer.Argument(..., metavar="BẢNG_TÍNH",
                                             help="Bảng tính dùng chung, hoặc mỗi đơn vị một bảng tính "
                                                  "(mã hoặc đường liên kết)"),
    units: Path = typer.Option(..., "--units", help="Danh sách đơn vị (CSV hoặc YAML)"),
    catalog: str = typer.Option(..., "--catalog", help="Bộ chỉ tiêu, ví dụ 3tn-2024"),
    period: str = typer.Option(..., "--period", help="Kỳ báo cáo: 2024, 2024-H1, 2009-2013"),
    root: Optional[str] = typer.Option(None, "--root", help="Đơn vị tổng hợp (mặc định: ghi trong trang Hướng dẫn)"),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Ghi tệp tổng hợp .xlsx"),
    report: Optional[Path] = typer.Option(None, "--report", help="Viết văn bản báo cáo (.docx, .txt hoặc .md)"),
    number: Optional[str] = typer.Option(None, "--number", help="Số văn bản báo cáo, ví dụ 44A"),
    on: Optional[str] = typer.Option(None, "--date", help="Ngày ban hành báo cáo, ví dụ 25/06/2026"),
    config: Optional[Path] = typer.Option(None, "--config", help="Tệp thiết lập văn bản (TOML)"),
    write_back: bool = typer.Option(True, "--write-back/--no-write-back",
                                    help="Ghi tình hình nộp, kết quả kiểm tra, tổng hợp và tô màu ô sai vào bảng tính"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả dạng JSON"),
    credentials: Optional[Path] = typer.Option(None, "--credentials", help=CREDENTIALS_HELP),
    period_config: Optional[Path] = typer.Option(None, "--period-config", help="Tệp thiết lập kỳ báo cáo (TOML)"),
    api_base: Optional[str] = typer.Option(None, "--api-base", hidden=True, help=API_BASE_HELP),
) -> None:
    """Đọc số liệu mọi đơn vị (ít lệnh gọi API nhất có thể), kiểm tra, tổng hợp, ghi kết quả trở lại bảng tính; tùy chọn ghi tệp tổng hợp .xlsx và văn bản báo cáo."""
    if report and report.suffix.lower() not in (".docx", ".txt", ".md"):
        fail("Tệp báo cáo phải có đuôi .docx, .txt hoặc .md")
    with clear_errors():
        from .. import pipeline
        from ..model import Severity
        from ..xlsx.consolidated import write_consolidated
        from .auth import connect
        from .consolidate import consolidate_spreadsheets

        tree, cat, per = load_inputs(units, catalog, period, period_config)
        conn = connect(credentials, api_base=api_base)
        run = consolidate_spreadsheets(conn, spreadsheets, tree, cat, per, root=root, write_back=write_back)
        cons = run.consolidation
        written_report = None
        if out_file or report:
            xlsx = out_file or Path(tempfile.mkdtemp(prefix="batn-")) / f"TongHop_{run.root}_{per.id}.xlsx"
            write_consolidated(cons, xlsx)
            if report:
                written_report, _doc = pipeline.report_from_workbook(xlsx, report, number=number, on=parse_date(on),
                                                                     config=config, units=units)
    n_err = sum(f.severity == Severity.ERROR for f in cons.findings)
    if as_json:
        print(json.dumps({
            "spreadsheets": [r.info.url for r in run.reads], **consolidation_dict(cons),
            "requests": conn.counter.total, "out": str(out_file) if out_file else None,
            "report": str(written_report) if written_report else None}, ensure_ascii=False, indent=2, default=str))
    else:
        show_consolidation(cons)
        for r in run.reads:
            if r.skipped:
                out.print(escape(f"Bỏ qua các trang không phải của batn trong {r.info.title}: {', '.join(r.skipped)}"))
        if write_back:
            out.print("Đã ghi kết quả vào bảng tính: " + ", ".join(r.info.url for r in run.reads))
        if out_file:
            out.print(escape(f"Tệp tổng hợp: {out_file}"))
        if written_report:
            out.print(escape(f"Báo cáo: {written_report}"))
        out.print(conn.counter.summary())
    raise typer.Exit(HAS_ERRORS if n_err else OK)
