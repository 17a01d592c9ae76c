"""The units file: real CSV and YAML files written to tmp_path, good and broken."""
from __future__ import annotations

import csv
import unicodedata

import pytest
import yaml

from batn.model import Unit
from batn.units import UnitsFileError, load_units, units_from_rows, write_units_csv

FORMATS = ("csv", "yaml")


def write(tmp_path, fmt, rows, name="units"):
    """Write rows (tuples code, name, parent[, level]) as a units file of format `fmt`."""
    cols = ["code", "name", "parent", "level"]
    dicts = [dict(zip(cols, r)) for r in rows]
    path = tmp_path / f"{name}.{fmt}"
    if fmt == "csv":
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(dicts)
    else:
        path.write_text(yaml.safe_dump(dicts, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def at(fmt, i):
    """How the file names row i (0-based) of the rows given to `write`."""
    return f"dòng {i + 2}" if fmt == "csv" else f"mục {i + 1}"


def At(fmt, i):
    return at(fmt, i).capitalize()


def problems(path):
    with pytest.raises(UnitsFileError) as e:
        load_units(path)
    # the file is named first: a command reads several files (--units, --config, --period-config)
    assert str(e.value) == "\n".join([f"Danh sách đơn vị {path}:", *e.value.problems])
    assert isinstance(e.value, ValueError)
    return e.value.problems


GOOD = [
    ("T", "Tỉnh Đoàn Kiên Giang", "", "Tỉnh Đoàn"),
    ("RG", "Đoàn phường Rạch Giá", "T", "Đoàn cơ sở"),
    ("RG.CD1", "Chi đoàn Văn phòng", "RG", "Chi đoàn"),
    ("RG.CD2", "Chi đoàn Khu phố 2", "RG", "Chi đoàn"),
    ("CQD", "Đoàn các cơ quan Đảng tỉnh", "T", "Đoàn cơ sở"),
    ("CQD_01", "Chi đoàn Ban Tuyên giáo", "CQD", "Chi đoàn"),
]


# ---------------------------------------------------------------- a good tree

@pytest.mark.parametrize("fmt", FORMATS)
def test_good_three_level_tree(tmp_path, fmt):
    tree = load_units(write(tmp_path, fmt, GOOD))
    assert len(tree) == 6 and tree.root == "T"
    assert tree.walk() == ["T", "RG", "RG.CD1", "RG.CD2", "CQD", "CQD_01"]
    assert tree.walk("RG") == ["RG", "RG.CD1", "RG.CD2"]
    assert [tree.depth(c) for c in ("T", "RG", "RG.CD2", "CQD_01")] == [0, 1, 2, 2]
    assert tree.children["T"] == ("RG", "CQD")
    rg = tree["RG"]
    assert rg == Unit("RG", "Đoàn phường Rạch Giá", "T", level="Đoàn cơ sở")
    assert tree["T"].parent is None

    sub = tree.subtree("RG")
    assert sub.root == "RG" and len(sub) == 3 and sub["RG"].parent is None
    assert sub.walk() == ["RG", "RG.CD1", "RG.CD2"]
    assert sub.depth("RG.CD1") == 1
    assert "CQD" not in sub and "CQD" in tree


def test_csv_header_case_spaces_bom_extra_columns_and_optional_fields(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "\ufeff Code ,NAME, Parent ,Ghi chú,Level,Place,Issuer,Signer,Contact\n"
        "  T ,  Tỉnh Đoàn Kiên Giang ,,bỏ qua,Tỉnh Đoàn,Rạch Giá,TĐTN,Nguyễn Văn A,0297 123\n"
        "\n"
        "X1, Đoàn xã Bình An , T ,,Đoàn cơ sở,,ĐTN,,\n",
        encoding="utf-8",
    )
    tree = load_units(path)
    assert tree["T"] == Unit("T", "Tỉnh Đoàn Kiên Giang", None, "Tỉnh Đoàn", "Rạch Giá",
                             "TĐTN", "Nguyễn Văn A", "0297 123")
    assert tree["X1"].name == "Đoàn xã Bình An" and tree["X1"].parent == "T"
    assert tree["X1"].issuer == "ĐTN"


def test_csv_semicolon_as_excel_saves_it_in_vietnamese_locale(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code;name;parent\nT;Tỉnh Đoàn;\nA;Đoàn xã A, B;T\n", encoding="utf-8-sig")
    tree = load_units(path)
    assert tree.walk() == ["T", "A"] and tree["A"].name == "Đoàn xã A, B"


def test_blank_lines_keep_row_numbers(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code,name,parent\nT,Tỉnh Đoàn,\n\n,,\nA,Đoàn A,Y\n", encoding="utf-8")
    assert problems(path) == ["Dòng 5: đơn vị cấp trên 'Y' không có trong danh sách"]


def test_yaml_units_key_and_codes_stay_text(tmp_path):
    path = tmp_path / "units.yml"
    path.write_text(
        "units:\n"
        "  - {code: 001, name: Tỉnh Đoàn, parent: null}\n"
        "  - {code: 1.10, name: Đoàn A, parent: 001, level: Đoàn cơ sở}\n"
        "  - code: NO\n"
        "    name: Đoàn B\n"
        "    parent: '001'\n",
        encoding="utf-8",
    )
    tree = load_units(path)
    assert tree.walk() == ["001", "1.10", "NO"]
    assert tree["1.10"].parent == "001" and tree["001"].parent is None


def test_yaml_root_without_parent_key(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text("- code: T\n  name: Tỉnh Đoàn\n- code: A\n  name: Đoàn A\n  parent: T\n",
                    encoding="utf-8")
    assert load_units(path).walk() == ["T", "A"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_nfd_input_matches_nfc(tmp_path, fmt):
    nfd = [tuple(unicodedata.normalize("NFD", v) for v in row) for row in GOOD]
    assert nfd != GOOD
    tree = load_units(write(tmp_path, fmt, nfd))
    for code, name, parent, level in GOOD:
        assert tree[code].name == name
        assert tree[code].level == level
    assert tree["CQD"].level == "Đoàn cơ sở"   # matches a deadline keyed in NFC


def test_write_units_csv_round_trip(tmp_path):
    path = tmp_path / "in.yaml"
    path.write_text(
        "- {code: T, name: Tỉnh Đoàn, level: Tỉnh Đoàn, place: Rạch Giá, issuer: TĐTN,"
        " signer: 'Nguyễn Văn A, Bí thư', contact: \"a@b.vn\"}\n"
        "- {code: A, name: 'Đoàn \"xã\" A', parent: T}\n",
        encoding="utf-8",
    )
    tree = load_units(path)
    out = tmp_path / "out.csv"
    write_units_csv(tree, out)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    back = load_units(out)
    assert list(back.units.values()) == list(tree.units.values())


def test_units_from_rows_for_other_doors():
    rows = [{"Code": "T", "Name": "Tỉnh Đoàn", "Parent": None},
            {"code": 12.0, "name": "Đoàn A", "parent": "T"},
            {"code": "B", "name": "Đoàn B", "parent": "Z"}]
    where = ["trang 'Đơn vị' dòng 2", "trang 'Đơn vị' dòng 3", "trang 'Đơn vị' dòng 4"]
    with pytest.raises(UnitsFileError) as e:
        units_from_rows(rows, where)
    assert e.value.problems == ["Trang 'Đơn vị' dòng 4: đơn vị cấp trên 'Z' không có trong danh sách"]
    tree = units_from_rows(rows[:2], where[:2])
    assert tree.walk() == ["T", "12"]


# ---------------------------------------------------------------- broken trees

@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_code(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "Đoàn A", "T"), ("B", "Đoàn B", "T"),
            ("A", "Đoàn A khác", "T")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"Mã đơn vị 'A' bị trùng ở {at(fmt, 1)} và {at(fmt, 3)}"]


def test_duplicate_code_three_times_message(tmp_path):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "a", "T"), ("A", "b", "T"), ("A", "c", "T")]
    assert problems(write(tmp_path, "csv", rows)) == [
        "Mã đơn vị 'A' bị trùng ở dòng 3, dòng 4 và dòng 5"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_parent(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "Đoàn A", "T"), ("B", "Đoàn B", "Y")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"{At(fmt, 2)}: đơn vị cấp trên 'Y' không có trong danh sách"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_own_parent(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "Đoàn A", "A"), ("B", "Đoàn B", "T")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"{At(fmt, 1)}: đơn vị 'A' lại là đơn vị cấp trên của chính nó"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_cycle(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "a", "B"), ("X", "x", "T"), ("B", "b", "C"),
            ("Y", "y", "A"), ("C", "c", "A")]
    listed = "dòng 3, 5, 7" if fmt == "csv" else "mục 2, 4, 6"
    assert problems(write(tmp_path, fmt, rows)) == [f"Vòng lặp cấp trên: A → B → C → A ({listed})"]


def test_cycle_starts_at_first_row_whatever_the_entry(tmp_path):
    rows = [("T", "Tỉnh Đoàn", ""), ("Z", "z", "B"), ("B", "b", "C"), ("C", "c", "B")]
    assert problems(write(tmp_path, "csv", rows)) == ["Vòng lặp cấp trên: B → C → B (dòng 4, 5)"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_root(tmp_path, fmt):
    rows = [("A", "a", "B"), ("B", "b", "A")]
    got = problems(write(tmp_path, fmt, rows))
    listed = "dòng 2, 3" if fmt == "csv" else "mục 1, 2"
    assert got == [f"Vòng lặp cấp trên: A → B → A ({listed})",
                   "Không có đơn vị gốc (đơn vị không có đơn vị cấp trên); phải có đúng một"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_two_roots(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "a", "T"), ("B", "b", "T"), ("C", "c", "T"),
            ("D", "d", "T"), ("E", "e", "T"), ("X", "Tỉnh Đoàn khác", "")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"Có 2 đơn vị gốc (không có đơn vị cấp trên): {at(fmt, 0)} (T), {at(fmt, 6)} (X); "
        "chỉ được có một"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_name(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "", "T"), ("B", "  ", "T")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"{At(fmt, 1)}: thiếu tên đơn vị 'A'", f"{At(fmt, 2)}: thiếu tên đơn vị 'B'"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_code(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("  ", "Đoàn không mã", "T")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"{At(fmt, 1)}: thiếu mã đơn vị (đơn vị 'Đoàn không mã')"]


BAD_CODES = ["../x", "a/b", "a\\b", "Đoàn 1", "a b", "ĐX1", "x:y", "x*"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", BAD_CODES)
def test_code_characters(tmp_path, fmt, code):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "a", "T"), (code, "b", "T")]
    assert problems(write(tmp_path, fmt, rows)) == [
        f"{At(fmt, 2)}: mã đơn vị '{code}' chỉ được gồm chữ cái không dấu, chữ số, '_', '-', '.'"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code,why", [
    (".", "không được chỉ gồm dấu chấm"),
    ("..", "không được chỉ gồm dấu chấm"),
    ("...", "không được chỉ gồm dấu chấm"),
    ("a..b", "không được chứa '..'"),
    ("CON", "trùng tên dành riêng của Windows, không dùng làm tên tệp được"),
    ("nul.1", "trùng tên dành riêng của Windows, không dùng làm tên tệp được"),
])
def test_code_dots_and_reserved(tmp_path, fmt, code, why):
    rows = [("T", "Tỉnh Đoàn", ""), (code, "b", "T")]
    assert problems(write(tmp_path, fmt, rows)) == [f"{At(fmt, 1)}: mã đơn vị '{code}' {why}"]


def test_codes_differing_only_in_case(tmp_path):
    rows = [("T", "Tỉnh Đoàn", ""), ("A1", "a", "T"), ("a1", "b", "T")]
    assert problems(write(tmp_path, "csv", rows)) == [
        "Các mã đơn vị 'A1' (dòng 3) và 'a1' (dòng 4) chỉ khác nhau chữ hoa, chữ thường; "
        "tên tệp của chúng sẽ trùng nhau trên Windows"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_all_problems_at_once(tmp_path, fmt):
    rows = [("T", "Tỉnh Đoàn", ""), ("A", "", "T"), ("B", "b", "Q"), ("A", "a2", "T"),
            ("a/b", "c", "T"), ("R", "root 2", "")]
    got = problems(write(tmp_path, fmt, rows))
    assert got == [
        f"{At(fmt, 1)}: thiếu tên đơn vị 'A'",
        f"{At(fmt, 4)}: mã đơn vị 'a/b' chỉ được gồm chữ cái không dấu, chữ số, '_', '-', '.'",
        f"Mã đơn vị 'A' bị trùng ở {at(fmt, 1)} và {at(fmt, 3)}",
        f"{At(fmt, 2)}: đơn vị cấp trên 'Q' không có trong danh sách",
        f"Có 2 đơn vị gốc (không có đơn vị cấp trên): {at(fmt, 0)} (T), {at(fmt, 5)} (R); "
        "chỉ được có một",
    ]


# ---------------------------------------------------------------- unreadable files

def test_csv_missing_columns(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code,ten,cap_tren\nT,Tỉnh Đoàn,\n", encoding="utf-8")
    assert problems(path) == [
        "Dòng 1 (tiêu đề): thiếu cột 'name', 'parent'; cần các cột code, name, parent"]


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "units.csv"
    path.write_bytes("code,name,parent\nT,Tỉnh Đoàn,\n".encode("cp1258", errors="replace")
                     .replace(b"?", b"\xd0\xff"))
    assert problems(path) == ["Tệp 'units.csv' không phải mã UTF-8; hãy lưu lại dạng 'CSV UTF-8'"]


def test_csv_not_utf8_far_into_a_streamed_file(tmp_path):
    """The file is read as a stream: a bad byte past the first read buffer is still caught as a
    whole-file problem, never as half a tree."""
    path = tmp_path / "units.csv"
    good = "code,name,parent\nT,Tỉnh Đoàn,\n" + "".join(f"U{i},Đoàn xã {i},T\n" for i in range(20000))
    path.write_bytes(good.encode() + b"X,\xff\xfe,T\n")
    assert problems(path) == ["Tệp 'units.csv' không phải mã UTF-8; hãy lưu lại dạng 'CSV UTF-8'"]


def test_streamed_csv_names_rows_in_file_order(tmp_path):
    """Problems found after the stream (duplicates, case clashes, roots) still name their lines,
    in the order the codes first appear."""
    path = tmp_path / "units.csv"
    path.write_text("code,name,parent\nT,Tỉnh Đoàn,\nb,B,T\nA,A,T\n\nB,B2,T\nA,A2,T\nR,R,\n",
                    encoding="utf-8")
    assert problems(path) == [
        "Mã đơn vị 'A' bị trùng ở dòng 4 và dòng 7",
        "Các mã đơn vị 'b' (dòng 3) và 'B' (dòng 6) chỉ khác nhau chữ hoa, chữ thường; "
        "tên tệp của chúng sẽ trùng nhau trên Windows",
        "Có 2 đơn vị gốc (không có đơn vị cấp trên): dòng 2 (T), dòng 8 (R); chỉ được có một",
    ]


@pytest.mark.parametrize("fmt,text", [("csv", ""), ("csv", "code,name,parent\n"),
                                      ("yaml", ""), ("yaml", "units: []\n")])
def test_empty(tmp_path, fmt, text):
    path = tmp_path / f"units.{fmt}"
    path.write_text(text, encoding="utf-8")
    got = problems(path)
    assert len(got) == 1 and ("trống" in got[0] or "không có" in got[0])


def test_yaml_item_not_a_mapping(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text("- code: T\n  name: Tỉnh Đoàn\n- just text\n- code: A\n  name: a\n  parent: Y\n",
                    encoding="utf-8")
    assert problems(path) == [
        "Mục 2: không phải một đơn vị (cần các khóa code, name, parent)",
        "Mục 3: đơn vị cấp trên 'Y' không có trong danh sách",
    ]


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text("- code: T\n  name: [Tỉnh Đoàn\n- code: A\n", encoding="utf-8")
    (msg,) = problems(path)
    assert msg.startswith("Tệp 'units.yaml' không phải YAML hợp lệ ở dòng ")


def test_yaml_mapping_without_units_key(tmp_path):
    path = tmp_path / "units.yaml"
    path.write_text("donvi:\n  - {code: T, name: x}\n", encoding="utf-8")
    (msg,) = problems(path)
    assert "'units:'" in msg


def test_unknown_extension(tmp_path):
    path = tmp_path / "units.xlsx"
    path.write_bytes(b"")
    assert problems(path) == ["Tệp danh sách đơn vị 'units.xlsx' phải là .csv, .yaml hoặc .yml"]
