"""Where things sit in a batn workbook: names shared by the writers and the readers.

Readers locate cells only through the defined names below (the contract other
tools rely on); the sheet titles are used to tell a tampered workbook from a good one.
"""
from __future__ import annotations

DATA_SHEET = "Số liệu"
GUIDE_SHEET = "Hướng dẫn"
CHECK_SHEET = "Kết quả kiểm tra"
SUMMARY_SHEET = "Tổng hợp theo đơn vị"
STATUS_SHEET = "Tình hình nộp báo cáo"

NAME_UNIT = "BATN_UNIT"
NAME_UNIT_NAME = "BATN_UNIT_NAME"
NAME_PERIOD = "BATN_PERIOD"
NAME_CATALOG = "BATN_CATALOG"
NAME_KIND = "BATN_KIND"          # "Số liệu riêng" or "Tổng hợp"
NAME_STATUS = "BATN_STATUS"      # the self-check cell "Số lỗi: N"
NAME_SENT = "BATN_SENT"          # consolidated workbooks: units that sent a report
NAME_EXPECTED = "BATN_EXPECTED"  # consolidated workbooks: units expected to report
NAME_AS_OF = "BATN_AS_OF"        # consolidated workbooks: when the consolidation ran
NAME_ANNOTATED = "BATN_ANNOTATED"  # the coloured copy `validate --annotate` writes: never an input

METADATA_NAMES = {NAME_UNIT: "mã đơn vị", NAME_PERIOD: "kỳ báo cáo", NAME_CATALOG: "bộ chỉ tiêu"}

KIND_OWN = "Số liệu riêng của đơn vị"
KIND_TOTAL = "Tổng hợp (gồm các đơn vị trực thuộc)"

NARRATIVE_ROWS = 30   # blank rows offered on each narrative sheet
