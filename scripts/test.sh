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
      libreoffice-calc libreoffice-writer poppler-utils fonts-liberation fonts-dejavu-core >/dev/null
  else
    echo "Chú ý: chưa có LibreOffice/poppler-utils; các kiểm thử dùng LibreOffice sẽ được bỏ qua." >&2
    echo "Cài bằng: sudo apt-get install libreoffice-calc libreoffice-writer poppler-utils" >&2
  fi
fi

python -m pip install -q -e ".[test]"
python -m pytest -q "$@"
