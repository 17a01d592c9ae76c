"""The Excel door: the ribbon buttons (xlwings) over batn's one pipeline.

- `buttons`: Kiểm tra, Tổng hợp, Xuất báo cáo, Tạo biểu mẫu — one function per button taking an
  `xw.Book`, with a classic `RunPython` wrapper and an xlwings Lite/Server script wrapper;
- `book`: reading an open workbook through its defined names into a `Submission`;
- `write`: replaying `batn.actions` (colours, notes, the results sheet) and writing tables;
- `settings`: the consolidation workbook's "Thiết lập" and "Đơn vị" sheets;
- `tables`: the consolidation as rows.

Only `buttons` imports xlwings; the others work on any object with xlwings' Book API.
"""
