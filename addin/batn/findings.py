"""Finding kinds: stable ids with a Vietnamese message template and a default severity.

The templates live in templates/messages.yaml so a province can reword them.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from .model import Finding, Severity
from .resources import load_yaml, templates_dir


@lru_cache(maxsize=1)
def _kinds() -> dict[str, dict]:
    return load_yaml((templates_dir() / "messages.yaml").read_text(encoding="utf-8"))


def finding(kind: str, *, severity: Severity | None = None, file: str = "", unit: str = "",
            indicator: str = "", cell: str = "", variant: str = "", **fields: object) -> Finding:
    """A finding of `kind`, its message from messages.yaml (`message_<variant>` when the kind has one)."""
    spec = _kinds()[kind]
    template = spec.get(f"message_{variant}", spec["message"]) if variant else spec["message"]
    # NFC: text typed on a Mac or a phone arrives decomposed (NFD); every output shows it composed
    message = unicodedata.normalize("NFC", template.format(unit=unit, file=file, cell=cell,
                                                           indicator=indicator, **fields))
    return Finding(kind, severity or Severity(spec["severity"]), message,
                   file=file, unit=unit, indicator=indicator, cell=cell)


def breaks(f: Finding) -> bool:
    """True for a kind that makes a whole file unusable when a valid one of the same unit exists
    (`breaks: true` in messages.yaml): a broken structure, error values, words where figures belong."""
    return bool(_kinds().get(f.kind, {}).get("breaks"))


def count(findings, severity: Severity) -> int:
    return sum(1 for f in findings if f.severity == severity)


def figure_findings(parsed, *, label: str, **where) -> list[Finding]:
    """What reading one figure cell found (numbers.parse_figure): its problem, a lỗi; or a whole
    number typed as text ("216 lượt"), a cảnh báo, as the template's own "Kiểm tra" column says
    (template.text_check). Every door reads its figures through this (an xlsx file, a Google Sheet).
    A negative or fractional number typed as text gets its lỗi from the checks."""
    from .numbers import readings
    from .vn import so

    if parsed.problem:
        extra = readings(parsed.raw) if parsed.problem == "ambiguous-number" else {}
        variant = "decimal" if extra.get("mark") == "." else ""      # "1.5": a decimal, never fifteen
        return [finding(parsed.problem, label=label, value=parsed.raw, variant=variant, **extra, **where)]
    if parsed.raw and isinstance(parsed.value, int) and parsed.value >= 0:
        return [finding("number-as-text", label=label, value=parsed.raw, number=so(parsed.value), **where)]
    return []


def skipped_reason(f: Finding) -> str | None:
    """The reason of a `skipped-file` finding (what follows "Bỏ qua tệp này: "), None for another kind."""
    if f.kind != "skipped-file":
        return None
    head, _, tail = _kinds()["skipped-file"]["message"].partition("{reason}")
    if f.message.startswith(head) and f.message.endswith(tail) and len(f.message) >= len(head) + len(tail):
        return f.message[len(head):len(f.message) - len(tail)]
    return f.message


def in_words(english: str, table, otherwise: str) -> str:
    """A library's English reason ("file is not a database", calamine's "cell limit") said in
    Vietnamese: the text of the first row of `table` ((words, text), …) one of whose words it
    contains, else `otherwise`. The clerk is told what to do, not what the library said."""
    low = english.lower()
    return next((text for words, text in table if any(w in low for w in words)), otherwise)
