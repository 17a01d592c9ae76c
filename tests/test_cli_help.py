"""What a clerk reads on the command line is Vietnamese: every --help, usage error and OS error of every
command (batn, its subcommands, `batn gsheets …`, `batn run`, `batn lich-su`)."""
import errno
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from batn.cli import app
from batn.cliutil import os_error_text, usage_error_text

# English that Typer/click or Python would otherwise show
ENGLISH = ["Usage:", "Show this message", "Missing argument", "Missing option", "Missing command", "Try '",
           "for help", "No such", "Possible options", "Invalid value", "requires an argument", "does not take",
           "unexpected extra", "Did you mean", "Input should", "[Errno", "Errno", "Error", "Options", "Arguments",
           "Commands", "[OPTIONS]", "COMMAND", "[ARGS]", "[required]", "[default", "<bool>", "<list[", "<str>",
           "<path>", "<int>", "Traceback", "Aborted"]
TOP = typer.main.get_command(app)
ROOT = Path(__file__).resolve().parents[1]
UNITS = str(ROOT / "templates" / "demo" / "don_vi.csv")


def _paths(group=TOP, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if hasattr(cmd, "commands"):
            yield from _paths(cmd, (*prefix, name))


COMMANDS = dict(_paths())


def _run(*args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))     # wide: no phrase split over lines


def _vietnamese(r, *, code):
    text = r.output                 # stdout and stderr together
    found = [w for w in ENGLISH if w in text]
    assert not found, f"English {found} in:\n{text}"
    assert r.exit_code == code, text
    return text


def test_every_command_is_listed():
    assert {"template", "validate", "consolidate", "report", "demo", "run", "lich-su", "gsheets",
            "gsheets setup", "gsheets consolidate"} <= {" ".join(p) for p in COMMANDS}


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "batn")
def test_help_is_vietnamese(path):
    text = _vietnamese(_run(*path, "--help"), code=0)
    assert "Cách dùng: " in text and "Xem hướng dẫn này rồi thoát." in text


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_option_and_argument_is_described(path):
    ctx = typer.Context(COMMANDS[path])
    for p in COMMANDS[path].get_params(ctx):
        if getattr(p, "hidden", False):
            continue
        assert p.help and re.search(r"[à-ỹđ]", p.help.lower()), f"{' '.join(path)} {p.name}: no Vietnamese help"
        if p.param_type_name == "argument":      # its name is what --help and the errors show
            assert p.metavar and p.metavar.isupper() and not p.metavar.isascii(), (path, p.name, p.metavar)


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "batn")
def test_bad_option_is_a_vietnamese_usage_error(path):
    text = _vietnamese(_run(*path, "--khong-co"), code=2)
    assert "Không có tùy chọn --khong-co" in text and "Cách dùng: " in text


@pytest.mark.parametrize("args, words", [
    (["validate"], "Thiếu tham số 'TỆP'"),
    (["consolidate"], "Thiếu tham số 'THƯ_MỤC'"),
    (["report"], "Thiếu tham số 'TỆP_TỔNG_HỢP'"),
    (["run"], "Thiếu tham số 'TỆP_CẤU_HÌNH'"),
    (["lich-su"], "Thiếu tham số 'MÃ_ĐƠN_VỊ'"),
    (["gsheets", "consolidate"], "Thiếu tham số 'BẢNG_TÍNH'"),
    (["template", "--catalog", "3tn-2024"], "Thiếu tùy chọn '--units'"),
    (["gsheets", "setup", "--units", "x"], "Thiếu tùy chọn"),
    (["demo", "--out"], "Tùy chọn '--out' cần một giá trị"),
    (["validate", "--json=1", "a.xlsx"], "Tùy chọn '--json' không nhận giá trị"),
    (["report", "a", "b", "--out", "r.docx"], "Thừa tham số: b"),
    (["valdate"], "Không có lệnh 'valdate'; có phải là 'validate'?"),
    (["consolidate", "a", "--workers", "bốn"], "Giá trị của '--workers' không hợp lệ: cần một số nguyên"),
])
def test_usage_errors_are_vietnamese(args, words):
    assert words in _vietnamese(_run(*args), code=2)


def test_missing_files_are_vietnamese(tmp_path):
    gone = tmp_path / "khong-co"
    units = UNITS
    for args in (["validate", f"{gone}.xlsx"],
                 ["template", "--catalog", "3tn-2024", "--units", f"{gone}.csv", "--period", "2024",
                  "--out", str(tmp_path / "t")],
                 ["consolidate", str(gone), "--units", units, "--catalog", "3tn-2024", "--period", "2024",
                  "--out", str(tmp_path / "t.xlsx")],
                 ["consolidate", str(tmp_path), "--units", f"{gone}.csv", "--catalog", "3tn-2024", "--period",
                  "2024", "--out", str(tmp_path / "t.xlsx")],
                 ["report", f"{gone}.xlsx", "--out", str(tmp_path / "r.docx")],
                 ["run", f"{gone}.toml"],
                 ["lich-su", "TD", "--ledger", f"{gone}.sqlite3"],
                 ["lich-su", "TD", "--config", f"{gone}.toml"]):
        text = _vietnamese(_run(*args), code=2)
        assert "Lỗi" in text and str(gone) in text, args


def test_a_file_given_for_a_folder_and_a_folder_for_a_file_are_said_so(tmp_path, monkeypatch):
    """Each mistake named as the clerk typed it (never a temporary file's name, never the current
    folder taken for a catalogue), exit 2, before any file is read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hop_thu").mkdir()
    (tmp_path / "ra.xlsx").mkdir()
    (tmp_path / "ra.docx").mkdir()
    (tmp_path / "van_ban.txt").write_text("Kính gửi Tỉnh Đoàn", encoding="utf-8")
    common = ["--units", UNITS, "--catalog", "3tn-2024", "--period", "2026-H1"]
    for args, said in ((["consolidate", "hop_thu", *common, "--out", "ra.xlsx"], "ra.xlsx là thư mục"),
                       (["consolidate", "hop_thu", *common, "--out", "t.docx"], "phải có đuôi .xlsx"),
                       (["consolidate", "van_ban.txt", *common, "--out", "t.xlsx"], "van_ban.txt là một tệp"),
                       (["report", "hop_thu", "--out", "r.docx"], "hop_thu: Bỏ qua tệp này"),
                       (["report", "van_ban.txt", "--out", "r.docx"], "van_ban.txt: Bỏ qua tệp này"),
                       (["report", str(ROOT / "templates" / "demo" / "TongHop_TD_AG_2025-H1.xlsx"), "--out", "ra.docx"],
                        "ra.docx: đây là thư mục")):
        text = _vietnamese(_run(*args), code=2)
        assert said in text and "bộ chỉ tiêu" not in text and "/." not in text, (args, text)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hop_thu", "ra.docx", "ra.xlsx", "van_ban.txt"]


def test_a_file_named_to_be_checked_that_is_no_workbook_is_a_loi(tmp_path, monkeypatch):
    """validate on the file itself: a Word document or a text is a lỗi of that check, said for what it
    is (in a folder such files are only set aside); an empty folder is said to be empty."""
    import zipfile

    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile(tmp_path / "cong_van.docx", "w") as z:
        z.writestr("word/document.xml", "<w:document xmlns:w='http://schemas.openxmlformats.org/wordprocessingml/2006/main'/>")
    (tmp_path / "ghi_chu.txt").write_text("Kính gửi Tỉnh Đoàn", encoding="utf-8")
    (tmp_path / "bao_cao.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "anh_chup.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    (tmp_path / "trong").mkdir()
    for name, said in (("cong_van.docx", "đây là tệp Word (.docx), không phải bảng tính"),
                       ("ghi_chu.txt", "đây là tệp văn bản, không phải bảng tính"),
                       ("bao_cao.pdf", "đây là tệp PDF, không phải bảng tính"),
                       ("anh_chup.jpg", "đây là tệp ảnh (JPEG), không phải bảng tính")):
        raw = _vietnamese(_run("validate", name), code=1)
        text = " ".join(raw.split())
        assert f"lỗi Không mở được tệp: {said}" in text and "bị đổi đuôi" not in text, text
        assert "(chưa rõ đơn vị)" in text and "lỗi  Không" not in raw       # no cell: no empty column
    text = " ".join(_vietnamese(_run("validate", "trong"), code=0).split())
    assert "Không có tệp nào để kiểm tra trong trong" in text


def test_a_broken_settings_or_catalogue_file_is_said_with_its_line(tmp_path, monkeypatch):
    """The line and column of a TOML or YAML mistake, or the operating system's refusal, in Vietnamese:
    never the parser's English ("Illegal character", "while parsing", "[Errno 2]")."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sai.toml").write_text('[document]\nplace = "Rạch Giá\n', encoding="utf-8")
    (tmp_path / "sai.yaml").write_text("id: x\nindicators: [a, b\n  - c\n", encoding="utf-8")
    (tmp_path / "rong.xlsx").write_bytes(b"")
    (tmp_path / "thu_muc").mkdir()
    book = str(ROOT / "templates" / "demo" / "TongHop_TD_AG_2025-H1.xlsx")
    for args, said in ((["report", book, "--out", "r.txt", "--config", "sai.toml"], "sai.toml: sai cú pháp TOML ở dòng 2"),
                       (["report", book, "--out", "r.txt", "--config", "khong.toml"],
                        "khong.toml: không có tệp hoặc thư mục này"),
                       (["run", "sai.toml"], "sai.toml: sai cú pháp TOML ở dòng 2"),
                       (["run", "thu_muc"], "thu_muc: đây là thư mục"),
                       (["catalogue", "check", "sai.yaml"], "sai.yaml: sai cú pháp YAML ở dòng"),
                       (["catalogue", "check", "rong.xlsx"], "rong.xlsx: không phải sổ tính .xlsx hợp lệ"),
                       (["validate", book, "--catalog", "sai.yaml"], "sai.yaml: sai cú pháp YAML ở dòng")):
        text = " ".join(_vietnamese(_run(*args), code=2).split())
        assert said in text, (args, text)
        assert not any(w in text for w in ("Illegal", "while parsing", "Errno", "BadZipFile", "expected")), text


@pytest.mark.parametrize("args", [
    ["template", "--catalog", "3tn-2024", "--units", UNITS, "--out", "t"],
    ["validate", "a.xlsx"],
    ["consolidate", ".", "--units", UNITS, "--catalog", "3tn-2024", "--out", "t.xlsx"],
    ["lich-su", "TD", "--ledger", "so.sqlite3"],
    ["gsheets", "setup", "--units", UNITS, "--catalog", "3tn-2024", "--unit", "TD"],
    ["gsheets", "consolidate", "x", "--units", UNITS, "--catalog", "3tn-2024"],
], ids=lambda a: " ".join(a[:2]))
def test_a_period_that_is_none_is_a_usage_error(args, tmp_path, monkeypatch):
    """--period 2025-Q1 stops every command that takes --period with exit status 2, before any work."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.xlsx").write_bytes(b"")
    text = _vietnamese(_run(*args, "--period", "2025-Q1"), code=2)
    assert "Kỳ báo cáo '2025-Q1' không hợp lệ" in text
    assert not (tmp_path / "t").exists() and not (tmp_path / "t.xlsx").exists()


def test_translations():
    assert os_error_text(FileNotFoundError(errno.ENOENT, "No such file or directory", "/a/b.csv")) == \
        "/a/b.csv: không có tệp hoặc thư mục này"
    assert os_error_text(OSError(errno.ENOSPC, "No space left on device")) == "ổ đĩa đã đầy"
    assert "Errno" not in os_error_text(OSError(errno.EIO, "Input/output error", "x"))
    assert usage_error_text("No such option: --x (Possible options: --out, --units)") == \
        "Không có tùy chọn --x; có phải là --out, --units?"
    assert usage_error_text("Something batn says itself.") == "Something batn says itself."


def test_help_panels_are_vietnamese():
    top = CliRunner().invoke(app, ["--help"])
    sub = CliRunner().invoke(app, ["consolidate", "--help"])
    assert top.exit_code == 0 and sub.exit_code == 0
    assert "Tùy chọn" in top.output and "Lệnh" in top.output and "Commands" not in top.output
    assert "Tham số" in sub.output and "[bắt buộc]" in sub.output and "[required]" not in sub.output


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_a_commands_summary_is_one_paragraph(path):
    """The list of commands in `batn --help` prints each summary as the terminal wraps it: a line break
    written into the docstring would break it mid-sentence ("…trong Google⏎ Drive của bạn")."""
    summary = (COMMANDS[path].help or "").split("\n\n")[0]
    assert "\n" not in summary.strip(), summary
