"""Figures typed the way clerks type them: read when certain, reported when not."""
from datetime import date, datetime

import pytest

from batn.numbers import parse_figure


@pytest.mark.parametrize("cell,value,problem", [
    (None, None, ""), ("", None, ""), ("   ", None, ""),
    (243, 243, ""), (243.0, 243, ""), (12.5, 12.5, ""),
    (" 243 ", 243, ""), ("8.964", 8964, ""), ("15.868 lượt", 15868, ""), ("1.644 đêm", 1644, ""),
    ("1.234.567", 1234567, ""), ("1 234", None, "not-a-number"), ("1\u00a0234", None, "not-a-number"),
    ("1,234,567", 1234567, ""), ("12,5", 12.5, ""), ("1.234,5", 1234.5, ""), ("-5", -5, ""),
    ("1,644", None, "ambiguous-number"), ("1.5", None, "ambiguous-number"),
    ("mười", None, "not-a-number"), ("trên 500", None, "not-a-number"), ("#REF!", None, "not-a-number"),
    (True, None, "boolean-in-number"), (date(2024, 1, 1), None, "date-in-number"),
    (datetime(2024, 1, 1, 8), None, "date-in-number"), (float("nan"), None, "not-a-number"),
    ("１２３", 123, ""),  # full-width digits from an IME: the meaning is certain
])
def test_parse_figure(cell, value, problem):
    p = parse_figure(cell)
    assert (p.value, p.problem) == (value, problem)


@pytest.mark.parametrize("text, whole, whole_read, decimal", [
    ("1,644", "1644", "1.644", "1,644"), ("12,345", "12345", "12.345", "12,345"),
    ("-1,644", "-1644", "-1.644", "-1,644"), ("1,644 lượt", "1644 lượt", "1.644 lượt", "1,644 lượt")])
def test_an_ambiguous_figure_is_told_with_both_its_readings(text, whole, whole_read, decimal):
    from batn.findings import figure_findings
    from batn.numbers import readings

    assert parse_figure(text).problem == "ambiguous-number"
    got = readings(parse_figure(text).raw)
    assert (got["whole"], got["whole_read"], got["decimal"]) == (whole, whole_read, decimal)
    (f,) = figure_findings(parse_figure(text), label="Đơn vị máu", cell="Số liệu!D51")
    assert f.message == (f"“Đơn vị máu”: “{text}” không rõ là {whole_read} (số nguyên) hay {decimal} (số thập phân); "
                         f"hãy gõ lại bằng số, ví dụ {whole} nếu là số nguyên")
    assert f.cell == "Số liệu!D51" and f.severity.value == "lỗi"


@pytest.mark.parametrize("text, decimal", [("1.5", "1,5"), ("12.25", "12,25"), ("1.5 triệu", "1,5 triệu")])
def test_a_dot_decimal_is_told_as_the_decimal_it_is_never_as_fifteen(text, decimal):
    """"1.5" is an English decimal, never fifteen; a word after it ("triệu") stays with the figure."""
    from batn.findings import figure_findings

    (f,) = figure_findings(parse_figure(text), label="Kinh phí")
    assert f.kind == "ambiguous-number" and f.message.endswith(f"nếu là số thập phân, hãy gõ {decimal}")
    assert "15 " not in f.message and "(số nguyên)" not in f.message
