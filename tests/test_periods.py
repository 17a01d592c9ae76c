"""Period ids, labels, data windows and per-level deadlines."""
from __future__ import annotations

from datetime import date
import unicodedata
from pathlib import Path

import pytest

from batn.periods import DEFAULT_CONFIG, load_period_config, parse_period

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "periods.toml"
D = date


@pytest.mark.parametrize("pid,id_,label,start,end,deadline", [
    ("2024", "2024", "năm 2024", D(2023, 12, 15), D(2024, 12, 14), D(2024, 12, 20)),
    ("2024-H1", "2024-H1", "6 tháng đầu năm 2024", D(2023, 12, 15), D(2024, 6, 14), D(2024, 6, 20)),
    ("2024-H2", "2024-H2", "6 tháng cuối năm 2024", D(2024, 6, 15), D(2024, 12, 14), D(2024, 12, 20)),
    ("2009-2013", "2009-2013", "giai đoạn 2009 - 2013", D(2009, 1, 1), D(2013, 12, 31), D(2014, 1, 10)),
    ("2015-2017", "2015-2017", "giai đoạn 2015 - 2017", D(2015, 1, 1), D(2017, 12, 31), D(2018, 1, 10)),
    (" 2025-h1 ", "2025-H1", "6 tháng đầu năm 2025", D(2024, 12, 15), D(2025, 6, 14), D(2025, 6, 20)),
    ("2009 – 2013", "2009-2013", "giai đoạn 2009 - 2013", D(2009, 1, 1), D(2013, 12, 31), D(2014, 1, 10)),
])
def test_defaults(pid, id_, label, start, end, deadline):
    p = parse_period(pid)
    assert (p.id, p.label, p.start, p.end) == (id_, label, start, end)
    assert p.deadlines == {"": deadline}
    assert p.deadline_for("Chi đoàn") == deadline


@pytest.mark.parametrize("pid", [
    "xyz", "", "24", "2024-H3", "2024-H", "2024H1", "2024-Q1", "2013-2009", "2013-2013",
    "2024-06", "0999", "2024-2025-H1", "năm 2024",
])
def test_bad_ids(pid):
    with pytest.raises(ValueError) as e:
        parse_period(pid)
    assert str(e.value) == (f"Kỳ báo cáo '{pid}' không hợp lệ; "
                            "dùng dạng 2024, 2024-H1, 2024-H2 hoặc 2009-2013")


CONFIG = {
    "window": {"year_start": "12-15", "year_end": "12-14", "h1_end": "06-14"},
    "deadlines": {
        "year": {"": "12-20", "Đoàn cơ sở": "12-16", "Tỉnh Đoàn": "12-25"},
        "H1": {"Đoàn cơ sở": "06-16", "Tỉnh Đoàn": "+11d"},
        "H2": {"": "11-30"},
        "phase": {"": "+10d", "Tỉnh Đoàn": "+30d"},
    },
}


@pytest.mark.parametrize("pid,level,deadline", [
    ("2024", "Đoàn cơ sở", D(2024, 12, 16)),
    ("2024", "Tỉnh Đoàn", D(2024, 12, 25)),
    ("2024", "Chi đoàn", D(2024, 12, 20)),           # not listed: ""
    ("2024", "", D(2024, 12, 20)),
    ("2024-H1", "Đoàn cơ sở", D(2024, 6, 16)),
    ("2024-H1", "Tỉnh Đoàn", D(2024, 6, 25)),        # +11d after 14/06
    ("2024-H1", "Chi đoàn", D(2024, 6, 20)),         # default "" kept under the file's levels
    ("2024-H2", "Đoàn cơ sở", D(2024, 11, 30)),      # before the cut-off, as in seed 000
    ("2009-2013", "Tỉnh Đoàn", D(2014, 1, 30)),
    ("2009-2013", "Đoàn cơ sở", D(2014, 1, 10)),
])
def test_deadlines_per_level(pid, level, deadline):
    assert parse_period(pid, CONFIG).deadline_for(level) == deadline


def test_deadlines_keyed_by_level():
    p = parse_period("2024", CONFIG)
    assert p.deadlines == {"": D(2024, 12, 20), "Đoàn cơ sở": D(2024, 12, 16),
                           "Tỉnh Đoàn": D(2024, 12, 25)}


@pytest.mark.parametrize("window,pid,start,end,deadline", [
    ({"year_start": "01-01", "year_end": "12-31"}, "2024",
     D(2024, 1, 1), D(2024, 12, 31), D(2025, 1, 6)),
    ({"year_start": "01-01", "year_end": "12-31", "h1_end": "06-30"}, "2024-H1",
     D(2024, 1, 1), D(2024, 6, 30), D(2024, 7, 6)),
    ({"year_start": "01-01", "year_end": "12-31", "h1_end": "06-30"}, "2024-H2",
     D(2024, 7, 1), D(2024, 12, 31), D(2025, 1, 6)),
    ({"year_start": "12-01", "year_end": "11-30"}, "2024",
     D(2023, 12, 1), D(2024, 11, 30), D(2024, 12, 6)),
    ({"h1_end": "6-15"}, "2024-H1", D(2023, 12, 15), D(2024, 6, 15), D(2024, 6, 21)),
    ({"phase_start": "12-15", "phase_end": "12-14"}, "2009-2013",
     D(2008, 12, 15), D(2013, 12, 14), D(2013, 12, 24)),
])
def test_configured_windows(window, pid, start, end, deadline):
    p = parse_period(pid, {"window": window})
    assert (p.start, p.end, p.deadline_for("")) == (start, end, deadline)


@pytest.mark.parametrize("config,fragment", [
    ({"window": {"year_end": "12/14"}}, "'window.year_end' = '12/14'"),
    ({"window": {"year_end": "13-01"}}, "'window.year_end' = '13-01'"),
    ({"window": {"h1_end": "02-29"}}, "'window.h1_end' = '02-29'"),
    ({"window": {"yearend": "12-14"}}, "'window.yearend' không có"),
    ({"deadlines": {"year": {"": "20/12"}}}, "'deadlines.year.\"\"' = '20/12'"),
    ({"deadlines": {"year": {"Tỉnh Đoàn": "+d"}}}, "'deadlines.year.Tỉnh Đoàn' = '+d'"),
    ({"deadlines": {"quarter": {"": "+6d"}}}, "'deadlines.quarter' không có"),
    ({"deadlines": {"year": "12-20"}}, "'deadlines.year' phải là một bảng"),
    ({"window": {"year_start": "07-01", "year_end": "12-31"}},
     "Kỳ báo cáo 2024-H1: ngày bắt đầu 01/07/2024 sau ngày kết thúc 14/06/2024"),
])
def test_bad_config(config, fragment):
    with pytest.raises(ValueError) as e:
        parse_period("2024-H1", config)
    assert fragment in str(e.value)


def test_template_file_equals_defaults():
    cfg = load_period_config(TEMPLATE)
    assert cfg == DEFAULT_CONFIG
    for pid in ("2024", "2024-H1", "2024-H2", "2009-2013"):
        assert parse_period(pid, cfg) == parse_period(pid)


def test_load_period_config_with_levels(tmp_path):
    path = tmp_path / "periods.toml"
    path.write_text(
        '[window]\nyear_end = "12-14"\n\n'
        '[deadlines.year]\n"" = "12-20"\n"Đoàn cơ sở" = "12-16"\n"Tỉnh Đoàn" = "12-25"\n',
        encoding="utf-8",
    )
    p = parse_period("2024", load_period_config(path))
    assert p.deadline_for("Đoàn cơ sở") == D(2024, 12, 16)
    assert p.deadline_for("Huyện Đoàn cũ") == D(2024, 12, 20)
    assert parse_period("2024-H1", load_period_config(path)).deadline_for("Tỉnh Đoàn") == D(2024, 6, 20)


def test_load_period_config_nfd_level_labels(tmp_path):
    path = tmp_path / "periods.toml"
    nfd = unicodedata.normalize("NFD", "Đoàn cơ sở")
    path.write_text(f'[deadlines.year]\n"{nfd}" = "12-16"\n', encoding="utf-8")
    p = parse_period("2024", load_period_config(path))
    assert p.deadline_for("Đoàn cơ sở") == D(2024, 12, 16)


@pytest.mark.parametrize("text,fragment", [
    ("[window\n", "không đọc được"),
    ('[window]\nyear_end = "12-40"\n', "'window.year_end' = '12-40'"),
])
def test_load_period_config_bad_file(tmp_path, text, fragment):
    path = tmp_path / "periods.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_period_config(path)
    assert fragment in str(e.value)
