"""What edited rules would do to existing articles, before an editor saves them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tags import combining
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


@dataclass(frozen=True)
class ModelJudge:
    """The topic model's side of the edited topic: the mode and levels typed into the form, and
    the current model's probability for the topic on one article (title, summary, text)."""

    mode: str
    probability: Callable[[str, str, str], float | None]
    publish_at: float = combining.DEFAULT_PUBLISH_AT
    review_at: float = combining.DEFAULT_REVIEW_AT
    veto_at: float = combining.DEFAULT_VETO_AT


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
    # Strong rule matches the topic model would keep off the page (rules + model).
    model_vetoed: int = 0
    model_vetoed_samples: list[Sample] = field(default_factory=list)


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
    judge: ModelJudge | None = None,
) -> Preview:
    """Match one edited rule over (id, title, summary, text, keywords) rows.

    ``current``: articles the topic lists today because of its rules or its model; ``fixed``:
    articles whose link neither decides (an editor's decision, a feed default, a child topic).
    Saving would add what the edited topic publishes outside both, and drop what it no longer
    publishes among ``current``. With a ``judge`` (a topic using its model), the model decides
    as the worker would (tags.combining): it may veto a strong rule match, confirm a weak one,
    or keep a model-made link; it is asked only about articles the edited rules match or the
    topic lists today.
    """
    rule = replace(rule, tag_id=PREVIEW_ID)
    matcher = Matcher([rule])
    current, fixed = set(current), set(fixed)
    uses_model = judge is not None and judge.mode != combining.RULES
    result = Preview()
    for article_id, title, summary, text, keywords in articles:
        result.scanned += 1
        found = matcher.match(
            title=title, summary=summary, text=text, keywords=keywords, explain=True
        )
        match = found[0] if found else None
        state = None
        if match is not None and match.vetoed_by is not None:
            result.vetoed += 1
        elif match is not None and match.score >= rule.min_score:
            state = combining.STRONG if match.strong else combining.WEAK
        note = ""
        if uses_model and (state is not None or article_id in current):
            probability = judge.probability(title, summary, text)
            decision = combining.decide(
                judge.mode,
                state,
                probability,
                publish_at=judge.publish_at,
                review_at=judge.review_at,
                veto_at=judge.veto_at,
            )
            published = decision.action == combining.Action.PUBLISH
            if decision.by == "model" or (state == combining.STRONG and not published):
                note = decision.reason
        else:
            published = state == combining.STRONG or (state == combining.WEAK and rule.publish_weak)
        row = (article_id, title, summary, text)
        if published:
            result.matched += 1
            if len(result.samples) < limit:
                result.samples.append(_sample(matcher, row, match, rule, note))
        elif state == combining.STRONG and note:
            result.model_vetoed += 1
            if len(result.model_vetoed_samples) < limit:
                result.model_vetoed_samples.append(_sample(matcher, row, match, rule, note))
        elif state == combining.WEAK:
            result.weak += 1
        if article_id in fixed:
            continue
        if published and article_id not in current:
            result.added += 1
            if len(result.added_samples) < limit:
                result.added_samples.append(_sample(matcher, row, match, rule, note))
        elif not published and article_id in current:
            result.dropped += 1
            if len(result.dropped_samples) < limit:
                result.dropped_samples.append(_sample(matcher, row, match, rule, note))
    return result


def _sample(
    matcher: Matcher,
    row: tuple[int, str, str, str],
    match: TagMatch | None,
    rule: Rule,
    note: str = "",
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
    if note:
        # What the topic model made of it: a veto, a confirmation, a link of its own.
        why = f"{why}; {note}" if match is not None and match.vetoed_by is None else note
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
