#!/usr/bin/env bash
# batn-run.sh — chạy tổng hợp theo lịch (cron, systemd). Scheduled wrapper for `batn run`.
#
#   scripts/batn-run.sh /srv/batn/batn-run.toml [--quiet | --json]
#
# Biến môi trường / environment:
#   BATN_PYTHON   Python có cài batn (ví dụ /opt/batn/venv/bin/python); mặc định: python3
#   BATN_LOG      nếu đặt: ghi thêm vào tệp nhật ký này (append), kèm dòng bắt đầu/kết thúc
#   BATN_SMTP_PASSWORD (hoặc tên trong password_env của cấu hình): mật khẩu máy chủ thư
#
# Mã thoát (như batn run): 0 xong; 1 xong nhưng số liệu nhận được có lỗi; 2 không chạy được
# (cấu hình sai, một lần chạy khác đang giữ khóa quá thời gian chờ, lỗi đĩa...).
# Xem docs/lich-chay.md.
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "Cách dùng: $0 TỆP_CẤU_HÌNH.toml [--quiet|--json]" >&2
  exit 2
fi
config="$1"; shift

python="${BATN_PYTHON:-python3}"
export PYTHONIOENCODING=utf-8 PYTHONUTF8=1
export LANG="${LANG:-C.UTF-8}"
umask 002              # kết quả đọc được bởi nhóm (thư mục chia sẻ của văn phòng)

# `python -m batn.run_cli run` là cùng một lệnh với `batn run`, không phụ thuộc PATH của cron.
if [ -n "${BATN_LOG:-}" ]; then
  mkdir -p "$(dirname "$BATN_LOG")"
  exec >>"$BATN_LOG" 2>&1
  echo "=== $(date '+%Y-%m-%d %H:%M:%S') batn run $config"
  "$python" -m batn.run_cli run "$config" "$@"
  status=$?
  echo "=== $(date '+%Y-%m-%d %H:%M:%S') mã thoát $status"
  exit $status
fi
exec "$python" -m batn.run_cli run "$config" "$@"
