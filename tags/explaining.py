"""Why a link exists, in words an editor reads: origin, strong or weak, which terms where.

Plain functions over the stored form of a link (``ArticleTag.terms`` and ``.hits``, see
``tags.matching.Hit.as_list``), so the admin, the preview and any report say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

FIELD_LABELS = {
    "title": "title",
    "summary": "summary",
    "lead": "first paragraph",
    "body": "body",
    "keywords": "the article's own labels",
}
ORIGIN_REASONS = {
    "editor": "added by an editor",
    "feed": "a default topic of the feed",
    "parent": "a child topic is linked",
}


def describe_hits(hits: Iterable[Sequence]) -> str:
    """E.g. `"gold" in title, body 2 times (1 inside a name); "bullion" in first paragraph`."""
    per_term: dict[str, dict[str, int]] = {}
    names: dict[str, int] = {}
    for field, _start, _end, term, *rest in hits:
        where = per_term.setdefault(term, {})
        where[field] = where.get(field, 0) + 1
        if rest and rest[0]:
            names[term] = names.get(term, 0) + 1
    parts = []
    for term, where in per_term.items():
        places = ", ".join(
            FIELD_LABELS.get(field, field) + (f" {n} times" if n > 1 else "")
            for field, n in where.items()
        )
        in_names = names.get(term)
        if in_names:
            places += f" ({in_names} inside a name)"
        parts.append(f"“{term}” in {places}")
    return "; ".join(parts)


def explain(
    origin: str,
    strong: bool,
    terms: dict[str, int],
    hits: Iterable[Sequence] = (),
    listed: bool | None = None,
    score: float | None = None,
) -> str:
    """One line: why this link exists and whether the rules publish it."""
    if origin in ORIGIN_REASONS:
        return ORIGIN_REASONS[origin]
    if origin == "vetoed":
        line = explain("rule", strong, terms, hits)
        probability = f"{score:.2f}" if score is not None else "low"
        return f"{line} — vetoed by the topic model (probability {probability}), not published"
    hits = list(hits)
    found = describe_hits(hits) or ", ".join(f"“{t}” {n} times" for t, n in terms.items())
    if origin == "category":
        kind = "the article's own labels"
    elif strong:
        kind = "strong rule match"
    else:
        kind = "weak rule match (one passing mention or a name)"
    line = f"{kind}: {found}" if found else kind
    if listed is False and not strong:
        line += " — not published"
    return line
