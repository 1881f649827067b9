"""What edited rules would do to existing articles, before an editor saves them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tags.explaining import explain
from tags.matching import Matcher, Rule, TagMatch

PREVIEW_ID = -1


@dataclass(frozen=True)
class Sample:
    article_id: int
    title_html: SafeString
    snippet_html: SafeString
    score: float
    terms: dict[str, int]
    strong: bool = True
    why: str = ""
    # The passage of the text around the first hit there, when the topic is found in the text.
    passage_html: SafeString | None = None


@dataclass
class Preview:
    scanned: int = 0
    matched: int = 0  # published by the edited rules (strong, or weak when they publish weak)
    vetoed: int = 0
    weak: int = 0  # weak matches the edited rules would record but not publish
    samples: list[Sample] = field(default_factory=list)
    # Against the topic's current links on the scanned articles: what saving would change.
    added: int = 0
    dropped: int = 0
    added_samples: list[Sample] = field(default_factory=list)
    dropped_samples: list[Sample] = field(default_factory=list)


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
    rule: Rule,
    articles: Iterable[tuple[int, str, str, str, list[str]]],
    limit: int = 10,
    *,
    current: Collection[int] = (),
    fixed: Collection[int] = (),
) -> Preview:
    """Match one edited rule over (id, title, summary, text, keywords) rows.

    ``current``: articles the topic lists today because of its rules; ``fixed``: articles whose
    link the rules do not decide (an editor's decision, a feed default, a child topic). Saving
    would add what the edited rule publishes outside both, and drop what it no longer
    publishes among ``current``.
    """
    rule = replace(rule, tag_id=PREVIEW_ID)
    matcher = Matcher([rule])
    current, fixed = set(current), set(fixed)
    result = Preview()
    for article_id, title, summary, text, keywords in articles:
        result.scanned += 1
        found = matcher.match(
            title=title, summary=summary, text=text, keywords=keywords, explain=True
        )
        match = found[0] if found else None
        published = False
        if match is not None and match.vetoed_by is not None:
            result.vetoed += 1
        elif match is not None and match.score >= rule.min_score:
            published = match.strong or rule.publish_weak
            if published:
                result.matched += 1
            else:
                result.weak += 1
        row = (article_id, title, summary, text)
        if published and len(result.samples) < limit:
            result.samples.append(_sample(matcher, row, match, rule))
        if article_id in fixed:
            continue
        if published and article_id not in current:
            result.added += 1
            if len(result.added_samples) < limit:
                result.added_samples.append(_sample(matcher, row, match, rule))
        elif not published and article_id in current:
            result.dropped += 1
            if len(result.dropped_samples) < limit:
                result.dropped_samples.append(_sample(matcher, row, match, rule))
    return result


def _sample(
    matcher: Matcher, row: tuple[int, str, str, str], match: TagMatch | None, rule: Rule
) -> Sample:
    article_id, title, summary, text = row
    body = summary or text
    body, spans = snippet_around(body, matcher.highlight_terms(body))
    passage = None
    in_text = [h for h in (match.hits if match else ()) if h.field in ("lead", "body")]
    if in_text and text:
        first = in_text[0]
        shown, shown_spans = snippet_around(
            text, [(h.start, h.end, 0) for h in in_text if h.start >= first.start]
        )
        passage = highlight_html(shown, shown_spans)
    if match is None:
        why = "the edited rules find none of its terms"
    elif match.vetoed_by is not None:
        why = f"vetoed by “{match.vetoed_by}”"
    else:
        why = explain(
            "rule",
            match.strong,
            match.terms,
            [h.as_list() for h in match.hits],
            listed=match.strong or rule.publish_weak,
        )
        if match.score < rule.min_score:
            why += f" — score {match.score:g} below {rule.min_score:g}"
    return Sample(
        article_id=article_id,
        title_html=highlight_html(title, matcher.highlight_terms(title)),
        snippet_html=highlight_html(body, spans),
        score=match.score if match else 0.0,
        terms=match.terms if match else {},
        strong=bool(match and match.strong),
        why=why,
        passage_html=passage,
    )
