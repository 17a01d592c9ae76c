"""batn: biểu mẫu, kiểm tra, tổng hợp và báo cáo phong trào “3 trách nhiệm”."""
__version__ = "0.1.0"
