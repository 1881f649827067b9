"""Reading a labelled archive (JSONL: title, body, topics, date; id optional). Pure.

Every line is checked before anything is stored: a malformed line is reported with its number
and nothing is imported. Topic codes are mapped to topic slugs; codes without a topic are
reported, and the articles still count as examples (negatives for the mapped topics).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime


class LabelsError(ValueError):
    """The labels file cannot be imported; ``problems`` lists every bad line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} malformed line(s), nothing imported:\n{shown}{more}")


@dataclass(frozen=True)
class LabelledLine:
    line: int
    external_id: str
    title: str
    body: str
    codes: tuple[str, ...]
    date: datetime | None


@dataclass
class ParsedLabels:
    lines: list[LabelledLine] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``code=slug`` pairs (from --map or a mapping file's lines) into a dict."""
    mapping: dict[str, str] = {}
    for raw in pairs:
        pair = raw.strip()
        if not pair or pair.startswith("#"):
            continue
        code, sep, slug = pair.partition("=")
        if not sep or not code.strip() or not slug.strip():
            raise ValueError(f"mapping {pair!r} is not CODE=SLUG")
        mapping[code.strip()] = slug.strip()
    return mapping


def parse_labels(lines: Iterable[str], known: Mapping[str, str]) -> ParsedLabels:
    """Check and read every line; ``known`` maps codes to slugs (codes missing are unknown)."""
    parsed, problems = ParsedLabels(), []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(item, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        title, body, topics = item.get("title", ""), item.get("body", ""), item.get("topics")
        if not isinstance(title, str) or not isinstance(body, str):
            problems.append(f"line {number}: title and body must be text")
            continue
        if not title.strip() and not body.strip():
            problems.append(f"line {number}: no title and no body")
            continue
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            problems.append(f"line {number}: topics must be a list of codes")
            continue
        date = None
        if item.get("date") not in (None, ""):
            try:
                date = datetime.fromisoformat(str(item["date"]))
            except ValueError:
                problems.append(f"line {number}: date {item['date']!r} is not ISO 8601")
                continue
            if date.tzinfo is None:
                date = date.replace(tzinfo=UTC)
        external_id = str(item.get("id", "") or f"line-{number}")[:100]
        codes = tuple(dict.fromkeys(t.strip() for t in topics if t.strip()))
        parsed.unknown.update(c for c in codes if c not in known)
        parsed.lines.append(LabelledLine(number, external_id, title, body, codes, date))
    if problems:
        raise LabelsError(problems)
    return parsed
