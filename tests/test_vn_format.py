"""Vietnamese number, money and date wording (docs/domain.md §3, §4)."""
from datetime import date
from decimal import Decimal

import pytest

from batn.vn import dem, dia_diem_ngay, doc_ngay, ngay_ngan, ngay_van_ban, so, so_van_ban, tien, ty_le


@pytest.mark.parametrize(
    "n, pad_small, expected",
    [
        (8964, False, "8.964"),
        (36009, False, "36.009"),
        (1234567, False, "1.234.567"),
        (85.6, False, "85,6"),
        (8964.0, False, "8.964"),
        (15868, False, "15.868"),
        (999, False, "999"),
        (1000, False, "1.000"),
        (0, False, "0"),
        (5, False, "5"),
        (1234.5, False, "1.234,5"),
        (0.5, False, "0,5"),
        (-1234, False, "-1.234"),
        (1_000_000_000_000, False, "1.000.000.000.000"),
        (Decimal("8964.00"), False, "8.964"),
        (1, True, "01"),
        (5, True, "05"),
        (9, True, "09"),
        (0, True, "0"),
        (10, True, "10"),
        (5.0, True, "05"),
        (5.5, True, "5,5"),
        (8964, True, "8.964"),
    ],
)
def test_so(n, pad_small, expected):
    assert so(n, pad_small=pad_small) == expected


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN")])
def test_so_rejects_non_finite(bad):
    with pytest.raises(ValueError):
        so(bad)


@pytest.mark.parametrize("bad", ["12", None, True])
def test_so_rejects_non_numbers(bad):
    with pytest.raises(TypeError):
        so(bad)


@pytest.mark.parametrize(
    "n, unit, pad_small, expected",
    [
        (1644, "đêm", True, "1.644 đêm"),
        (3, "công trình", True, "03 công trình"),
        (1, "Lò đốt rác", True, "01 Lò đốt rác"),
        (3, "công trình", False, "3 công trình"),
        (10, "cuộc", True, "10 cuộc"),
        (0, "cuộc", True, "0 cuộc"),  # zero in words is the report builder's job
        (2_500_000, "lượt", True, "2.500.000 lượt"),
        (1644.0, "đêm", True, "1.644 đêm"),
    ],
)
def test_dem(n, unit, pad_small, expected):
    assert dem(n, unit, pad_small=pad_small) == expected


@pytest.mark.parametrize(
    "amount, expected",
    [
        (340_000_000, "340 triệu đồng"),
        (1_540_000_000, "1 tỷ 540 triệu đồng"),
        (1_540_500_000, "trên 1 tỷ 540 triệu đồng"),
        (700_400_000, "trên 700 triệu đồng"),
        (2_000_000_000, "2 tỷ đồng"),
        (2_000_300_000, "trên 2 tỷ đồng"),
        (1_005_000_000, "1 tỷ 5 triệu đồng"),
        (850_000, "850.000 đồng"),
        (0, "0 đồng"),
        (1_250_000_000_000, "1.250 tỷ đồng"),
        (999_999, "999.999 đồng"),
        (1_000_000, "1 triệu đồng"),
        (1_000_001, "trên 1 triệu đồng"),
        (999_999_999, "trên 999 triệu đồng"),
        (1_000_000_000, "1 tỷ đồng"),
        (1_999_999_999, "trên 1 tỷ 999 triệu đồng"),
        (500, "500 đồng"),
        (1_540_000_000.0, "1 tỷ 540 triệu đồng"),
        (340_000_000.5, "trên 340 triệu đồng"),
        (Decimal("700400000"), "trên 700 triệu đồng"),
    ],
)
def test_tien(amount, expected):
    assert tien(amount) == expected


@pytest.mark.parametrize("bad", [-1, -1_000_000, -0.5])
def test_tien_rejects_negative(bad):
    with pytest.raises(ValueError):
        tien(bad)


@pytest.mark.parametrize(
    "num, den, decimals, expected",
    [
        (100, 100, 1, "100%"),
        (856, 1000, 1, "85,6%"),
        (1, 3, 1, "33,3%"),
        (2, 3, 1, "66,7%"),
        (5, 0, 1, ""),
        (0, 0, 1, ""),
        (0, 10, 1, "0%"),
        # half up, not banker's: 0,05% -> 0,1% and 0,25% -> 0,3%
        (5, 10_000, 1, "0,1%"),
        (1, 2_000, 1, "0,1%"),
        (4, 10_000, 1, "0%"),
        (25, 10_000, 1, "0,3%"),
        (1, 8, 1, "12,5%"),
        (1, 8, 0, "13%"),
        (1, 3, 0, "33%"),
        (1, 3, 2, "33,33%"),
        (856, 1000, 2, "85,6%"),  # trailing zeros dropped at any precision
        (12, 1, 1, "1.200%"),
        (85.6, 100, 1, "85,6%"),
        (8964.0, 8964, 1, "100%"),
        (-1, 100_000, 1, "0%"),  # no "-0%"
    ],
)
def test_ty_le(num, den, decimals, expected):
    assert ty_le(num, den, decimals=decimals) == expected


@pytest.mark.parametrize(
    "d, expected",
    [
        (date(2025, 2, 5), "ngày 05 tháng 02 năm 2025"),
        (date(2013, 6, 25), "ngày 25 tháng 6 năm 2013"),
        (date(2015, 8, 3), "ngày 03 tháng 8 năm 2015"),
        (date(2024, 1, 15), "ngày 15 tháng 01 năm 2024"),
        (date(2024, 12, 1), "ngày 01 tháng 12 năm 2024"),
        (date(2024, 3, 10), "ngày 10 tháng 3 năm 2024"),
        (date(2024, 10, 9), "ngày 09 tháng 10 năm 2024"),
    ],
)
def test_ngay_van_ban(d, expected):
    assert ngay_van_ban(d) == expected


@pytest.mark.parametrize(
    "d, with_year, expected",
    [
        (date(2014, 12, 25), True, "25/12/2014"),
        (date(2024, 11, 30), False, "30/11"),
        (date(2025, 2, 5), True, "05/02/2025"),
        (date(2025, 2, 5), False, "05/02"),
        (date(2015, 8, 3), True, "03/08/2015"),
    ],
)
def test_ngay_ngan(d, with_year, expected):
    assert ngay_ngan(d, with_year=with_year) == expected


@pytest.mark.parametrize(
    "place, d, expected",
    [
        ("Rạch Giá", date(2013, 6, 25), "Rạch Giá, ngày 25 tháng 6 năm 2013"),
        (" Hà Nội ", date(2025, 2, 5), "Hà Nội, ngày 05 tháng 02 năm 2025"),
    ],
)
def test_dia_diem_ngay(place, d, expected):
    assert dia_diem_ngay(place, d) == expected


@pytest.mark.parametrize(
    "number, doc_type, issuer, ban, expected",
    [
        ("44A", "BC", "TĐTN", "", "Số: 44A-BC/TĐTN"),
        ("144", "KH", "TĐTN", "TNCNĐT", "Số: 144-KH/TĐTN-TNCNĐT"),
        ("14", "KL", "TWĐTN", "CNĐT", "Số: 14-KL/TWĐTN-CNĐT"),
        (" 44 A ", "BC", "TĐTN", "", "Số: 44A-BC/TĐTN"),
        ("07", "CTr", "ĐTN", "  ", "Số: 07-CTr/ĐTN"),
        ("", "BC", "TĐTN", "", "Số:         -BC/TĐTN"),        # room for the văn thư to write the number in
        ("   ", "BC", "ĐTN", "", "Số:         -BC/ĐTN"),
    ],
)
def test_so_van_ban(number, doc_type, issuer, ban, expected):
    assert so_van_ban(number, doc_type, issuer, ban) == expected


@pytest.mark.parametrize("text", ["25/06/2026", "25/6/2026", " 25-06-2026 ", "25.06.2026", "2026-06-25", "2026-6-25"])
def test_doc_ngay_takes_the_forms_a_clerk_types(text):
    assert doc_ngay(text) == date(2026, 6, 25)


def test_doc_ngay_says_what_is_wrong():
    with pytest.raises(ValueError, match="Không có ngày 30/02/2025"):
        doc_ngay("30/02/2025")
    with pytest.raises(ValueError, match="Không có ngày 30/02/2025"):
        doc_ngay("2025-02-30")
    with pytest.raises(ValueError, match="không đúng dạng: ghi ngày/tháng/năm"):
        doc_ngay("25 tháng 6")
    with pytest.raises(ValueError, match="không đúng dạng"):
        doc_ngay("06/25")
