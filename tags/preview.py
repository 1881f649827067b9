"""What edited rules would do to existing articles, before an editor saves them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tags.matching import Matcher, Rule

PREVIEW_ID = -1


@dataclass(frozen=True)
class Sample:
    article_id: int
    title_html: SafeString
    snippet_html: SafeString
    score: float
    terms: dict[str, int]


@dataclass
class Preview:
    scanned: int = 0
    matched: int = 0
    vetoed: int = 0
    samples: list[Sample] = field(default_factory=list)


def highlight_html(text: str, spans: Iterable[tuple[int, int, int]]) -> SafeString:
    """Escape the text and wrap each span in <mark>; overlapping spans keep the first."""
    out, at = [], 0
    for start, end, _ in sorted(spans):
        if start < at:
            continue
        out.append(escape(text[at:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        at = end
    out.append(escape(text[at:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece of text above is escaped


def snippet_around(
    text: str, spans: list[tuple[int, int, int]], width: int = 240
) -> tuple[str, list]:
    """A window of the text around the first match, with spans shifted into it."""
    if not spans:
        return text[:width], []
    first = min(s[0] for s in spans)
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    inside = [(s - start, e - start, t) for s, e, t in spans if s >= start and e <= end]
    prefix = "…" if start else ""
    suffix = "…" if end < len(text) else ""
    shifted = [(s + len(prefix), e + len(prefix), t) for s, e, t in inside]
    return prefix + text[start:end] + suffix, shifted


def preview(
    rule: Rule, articles: Iterable[tuple[int, str, str, str, list[str]]], limit: int = 10
) -> Preview:
    """Match one edited rule over (id, title, summary, text, keywords) rows."""
    rule = Rule(
        tag_id=PREVIEW_ID,
        name=rule.name,
        aliases=rule.aliases,
        exclusions=rule.exclusions,
        title_and_summary_only=rule.title_and_summary_only,
        min_score=rule.min_score,
        case_sensitive_aliases=rule.case_sensitive_aliases,
    )
    matcher = Matcher([rule])
    result = Preview()
    for article_id, title, summary, text, keywords in articles:
        result.scanned += 1
        found = matcher.match(
            title=title, summary=summary, text=text, keywords=keywords, explain=True
        )
        if not found:
            continue
        match = found[0]
        if match.vetoed_by is not None:
            result.vetoed += 1
            continue
        if match.score < rule.min_score:
            continue
        result.matched += 1
        if len(result.samples) < limit:
            body = summary or text
            body, spans = snippet_around(body, matcher.highlight_terms(body))
            result.samples.append(
                Sample(
                    article_id=article_id,
                    title_html=highlight_html(title, matcher.highlight_terms(title)),
                    snippet_html=highlight_html(body, spans),
                    score=match.score,
                    terms=match.terms,
                )
            )
    return result
