"""The lists units send (mô hình, gương, khó khăn, đề xuất), merged and addressed for the report.

Only grouping and sorting here; every word said is a template of the `[wording]` and
`[proposals]` settings, rendered by `Phrases`.
- one entry per distinct model (same name, however typed), with all its units and results;
- exemplary people grouped by their achievement, each person once;
- difficulties grouped by text, with the units (or their number);
- proposals split: those addressed to the issuer itself become its own tasks (Phương hướng),
  the others go upward, to the addressee named in the settings when they name none.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

Row = Sequence[str]


def key_of(text: str) -> str:
    """What makes two entries the same: case, quotes, spaces and final punctuation ignored."""
    t = unicodedata.normalize("NFC", text).casefold()
    t = re.sub(r"[“”\"'‘’«»]", "", t)
    t = re.sub(r"^(mô hình|công trình|cách làm)\s*:?\s*", "", t)
    return re.sub(r"\s+", " ", t).strip(" .;,:-")


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().strip("“”\"").rstrip(" .;,")


def split_unit(text: str) -> tuple[str, str]:
    """"text (Unit)" as a consolidated workbook writes a one-column row -> ("text", "Unit")."""
    m = re.match(r"^(.*?)\s*\(([^()]*)\)\s*[.;]?$", text.strip())
    return (m.group(1), m.group(2)) if m else (text, "")


@dataclass
class Group:
    text: str                                   # as first written
    units: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)

    def add(self, bucket: list[str], item: str) -> None:
        if item and key_of(item) not in {key_of(x) for x in bucket}:
            bucket.append(item)


def models(rows: Iterable[Row]) -> list[Group]:
    """One group per model name: its units and its distinct results, most units first."""
    groups: dict[str, Group] = {}
    for row in rows:
        name = clean(row[0]) if row else ""
        if not name:
            continue
        g = groups.setdefault(key_of(name), Group(name))
        g.add(g.units, clean(row[1]) if len(row) > 1 else "")
        g.add(g.results, clean(row[2]) if len(row) > 2 else "")
    return sorted(groups.values(), key=lambda g: -len(g.units))


def people(rows: Iterable[Row]) -> list[Group]:
    """Exemplary people grouped by achievement, each (name, unit) once; larger groups first."""
    groups: dict[str, Group] = {}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        name = clean(row[0]) if row else ""
        if not name:
            continue
        unit = clean(row[1]) if len(row) > 1 else ""
        deed = clean(row[2]) if len(row) > 2 else ""
        if (key_of(name), key_of(unit)) in seen:
            continue
        seen.add((key_of(name), key_of(unit)))
        g = groups.setdefault(key_of(deed), Group(deed))
        g.people.append(f"{name} ({unit})" if unit else name)
    return sorted(groups.values(), key=lambda g: -len(g.people))


def by_text(rows: Iterable[Row]) -> list[Group]:
    """One-column lists (khó khăn, đề xuất): the same text from several units said once."""
    groups: dict[str, Group] = {}
    for row in rows:
        text, unit = split_unit(str(row[0]) if row else "")
        if len(row) > 1 and row[-1] and not unit:
            unit = clean(row[-1])
        text = clean(text)
        if not text:
            continue
        g = groups.setdefault(key_of(text), Group(text))
        g.add(g.units, unit)
    return sorted(groups.values(), key=lambda g: -len(g.units))


@dataclass
class Proposals:
    upward: list[str] = field(default_factory=list)     # "Đề nghị Trung ương Đoàn …"
    own_tasks: list[str] = field(default_factory=list)  # "Tổ chức tập huấn …" (for Phương hướng)


def _starts(text: str, words: Sequence[str]) -> str | None:
    low = text.casefold()
    for w in sorted(words, key=len, reverse=True):
        if low.startswith(w.casefold()):
            return w
    return None


def sort_proposals(groups: Sequence[Group], settings: Mapping, render) -> Proposals:
    """Split the units' proposals into upward ones and the issuer's own tasks."""
    verbs = list(settings.get("verbs", ["Đề nghị", "Kiến nghị"]))
    selves = list(settings.get("self_names", []))
    bodies = list(settings.get("bodies", []))
    out = Proposals()
    for g in groups:
        text = g.text
        verb = _starts(text, verbs)
        rest = text[len(verb):].strip(" :,") if verb else text
        me = _starts(rest, selves)
        if me:                                  # a unit asking the issuer: the issuer's own task
            task = rest[len(me):].strip(" :,")
            task = re.sub(r"^(quan tâm|xem xét|tiếp tục)\s+", "", task)
            if task:
                out.own_tasks.append(task[:1].upper() + task[1:])
            continue
        if verb and _starts(rest, bodies):      # already addressed upward
            line = f"{verb} {rest}"
        else:
            line = render(settings.get("upward", "{{ text }}"), addressee=settings.get("addressee", ""), text=rest)
        if key_of(line) not in {key_of(x) for x in out.upward}:
            out.upward.append(line)
    return out
