#!/usr/bin/env bash
# Install what the tests need and run them: the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# LibreOffice is the independent client that opens and recalculates our templates and turns the
# .docx report into PDF; poppler-utils reads those PDFs; the fonts carry the Vietnamese glyphs.
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends \
      libreoffice-calc libreoffice-writer poppler-utils fonts-liberation fonts-liberation2 fonts-dejavu-core >/dev/null
  else
    echo "Chú ý: chưa có LibreOffice/poppler-utils; các kiểm thử dùng LibreOffice sẽ được bỏ qua." >&2
    echo "Cài bằng: sudo apt-get install libreoffice-calc libreoffice-writer poppler-utils" >&2
  fi
fi

# Liberation 2.x carries Vietnamese glyphs (1.07 does not): without it PDFs mix in DejaVu for accents.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! dpkg -s fonts-liberation2 >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-liberation2 >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-liberation2 >/dev/null; } \
    || echo "Chú ý: không cài được fonts-liberation2; PDF sẽ dùng phông DejaVu cho chữ có dấu." >&2
fi

python -m pip install -q -e ".[test]"
python -m pytest -q "$@"
