#!/usr/bin/env bash
# Install what the tests need and run them: the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Another apt/dpkg (unattended-upgrades, a second test run) may hold the lock: wait for it, at most
# 10 minutes, instead of failing at once.
APT_WAIT=(-o DPkg::Lock::Timeout=600)

# `apt-get update` takes the package-lists lock, which DPkg::Lock::Timeout does not cover (apt 2.6
# fails at once): retry while another process holds it, for at most 10 minutes too.
apt_update() {
  local waited=0 log
  until log=$(LC_ALL=C apt-get "${APT_WAIT[@]}" "$@" update -qq 2>&1); do
    if ! grep -q "Could not get lock" <<<"$log" || [ "$waited" -ge 600 ]; then
      printf '%s\n' "$log" >&2
      return 1
    fi
    sleep 10
    waited=$((waited + 10))
  done
}

# LibreOffice is the independent client that opens and recalculates our templates and turns the
# .docx report into PDF; poppler-utils reads those PDFs; the fonts carry the Vietnamese glyphs.
if ! command -v soffice >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt_update
    apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends \
      libreoffice-calc libreoffice-writer poppler-utils fonts-liberation fonts-liberation2 fonts-dejavu-core >/dev/null
  else
    echo "Chú ý: chưa có LibreOffice/poppler-utils; các kiểm thử dùng LibreOffice sẽ được bỏ qua." >&2
    echo "Cài bằng: sudo apt-get install libreoffice-calc libreoffice-writer poppler-utils" >&2
  fi
fi

# Liberation 2.x carries Vietnamese glyphs (1.07 does not): without it PDFs mix in DejaVu for accents.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! dpkg -s fonts-liberation2 >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends fonts-liberation2 >/dev/null \
    || { apt_update && DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq fonts-liberation2 >/dev/null; } \
    || echo "Chú ý: không cài được fonts-liberation2; PDF sẽ dùng phông DejaVu cho chữ có dấu." >&2
fi

# Dovecot is the real IMAP server the mailbox tests start on loopback, with their own configuration
# (the package's own service is never started here).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v dovecot >/dev/null 2>&1; then
  { DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends dovecot-imapd >/dev/null 2>&1 \
    || { apt_update && DEBIAN_FRONTEND=noninteractive apt-get "${APT_WAIT[@]}" install -y -qq --no-install-recommends dovecot-imapd >/dev/null 2>&1; }; } \
    || echo "Chú ý: không cài được dovecot-imapd; các kiểm thử hộp thư sẽ được bỏ qua." >&2
fi

python -m pip install -q -e ".[test]"
python -m pytest -q "$@"
