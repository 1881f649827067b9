"""An article's shape on its page, its extraction path in the admin, and re-extraction."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from articles.models import Article, ExtractionPath, RawPage, Source
from tests.factories import make_article, staff

pytestmark = pytest.mark.django_db

PAGES = Path(__file__).parent / "fixtures" / "pages"
HOSTILE = '<script>alert("x")</script>'


def article_page(client, article: Article) -> str:
    """The public page of the article, its source licensed for full text (without a licence the
    page shows only the summary and a link, and no blocks)."""
    if article.source is None:
        article.source, _ = Source.objects.get_or_create(
            url="https://metalswire.example/",
            defaults={"name": "Metals Wire", "domain": "metalswire.example"},
        )
        article.save(update_fields=["source"])
    Source.objects.filter(pk=article.source_id).update(full_text_licensed=True)
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_blocks_render_as_headings_lists_quotes_and_code(client) -> None:
    article = make_article(
        text="Lead paragraph.\n\nA heading",
        blocks=[
            {"type": "p", "text": "Lead paragraph."},
            {"type": "h2", "text": "Domestic capacity grows, unevenly"},
            {"type": "h3", "text": "What buyers ask for"},
            {"type": "ul", "items": ["Estonia", "Texas"]},
            {"type": "ol", "items": ["Traceable origin", "Stable prices"]},
            {"type": "blockquote", "text": "We cannot build a factory on that."},
            {"type": "pre", "text": "pip install x\nls -la"},
        ],
    )
    html = article_page(client, article)
    assert "<p>Lead paragraph.</p>" in html
    assert "<h2>Domestic capacity grows, unevenly</h2>" in html
    assert "<h3>What buyers ask for</h3>" in html
    assert "<ul><li>Estonia</li><li>Texas</li></ul>" in html
    assert "<ol><li>Traceable origin</li><li>Stable prices</li></ol>" in html
    assert "<blockquote><p>We cannot build a factory on that.</p></blockquote>" in html
    assert "<pre><code>pip install x\nls -la</code></pre>" in html
    assert "<p>Domestic capacity grows, unevenly</p>" not in html


def test_fetched_text_in_blocks_stays_text(client) -> None:
    article = make_article(
        text="x",
        blocks=[
            {"type": "h2", "text": HOSTILE},
            {"type": "ul", "items": [HOSTILE]},
            {"type": "blockquote", "text": HOSTILE},
            {"type": "pre", "text": HOSTILE},
            {"type": "script", "text": "alert(2)"},
            {"type": "p", "text": '<img src=x onerror="alert(3)">'},
        ],
    )
    html = article_page(client, article)
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert f"<h2>{escaped}</h2>" in html
    assert f"<li>{escaped}</li>" in html
    assert f"<pre><code>{escaped}</code></pre>" in html
    assert HOSTILE not in html
    assert "alert(2)" not in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(3)&quot;&gt;" in html


def test_an_article_stored_before_blocks_renders_from_its_text(client) -> None:
    article = make_article(text="First paragraph here.\n\nSecond <b>paragraph</b> here.")
    assert article.blocks == []
    html = article_page(client, article)
    assert "<p>First paragraph here.</p>" in html
    assert "<p>Second &lt;b&gt;paragraph&lt;/b&gt; here.</p>" in html


@pytest.mark.parametrize("group", ["Operators", "Editors"])
def test_the_admin_shows_the_extraction_path_and_its_signals(client, group: str) -> None:
    article = make_article(
        text="x",
        extraction_path=ExtractionPath.PRECISION,
        extraction_signals={
            "fast": {"words": 628, "lines": 48, "link_lines": 0.458, "title_lines": 0.521},
            "precision": {"words": 86, "lines": 3, "link_lines": 0.0, "title_lines": 0.667},
            "ld_words": 78,
            "main_words": 0,
            "description_words": 15,
            "reasons": ["628 words against the page's 78 (ld_words)", HOSTILE],
        },
    )
    client.force_login(staff("olga", group))
    response = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Extraction path" in html
    assert "Precision mode (fast pass took more than the article)" in html
    assert "628 words against the page&#x27;s 78 (ld_words)" in html
    assert "<td>precision mode</td><td>86</td><td>3</td>" in html
    assert "<td>fast pass</td><td>628</td><td>48</td><td>0.458</td>" in html
    assert "words in the page&#x27;s JSON-LD articleBody" in html
    assert HOSTILE not in html
    # read-only: the path cannot be posted back
    assert 'name="extraction_path"' not in html


def test_reextract_fills_blocks_and_the_path_for_stored_pages(client) -> None:
    body = (PAGES / "structured_article.html").read_bytes()
    article = make_article(text="Flat text from before.", url="https://www.metalswire.example/m")
    RawPage.objects.create(
        article=article,
        url=article.url,
        http_status=200,
        charset="utf-8",
        size=len(body),
        body=RawPage.compress(body),
    )
    assert article.blocks == [] and article.extraction_path == ""
    call_command("reextract", verbosity=0)
    article.refresh_from_db()
    assert article.extraction_path == ExtractionPath.FAST
    assert article.extraction_signals["fast"]["words"] > 100
    types = [block["type"] for block in article.blocks]
    assert types == ["p", "h2", "p", "ul", "h3", "p", "ol", "blockquote", "p"]
    assert "Domestic capacity grows, unevenly" in article.text
    html = article_page(client, article)
    assert "<h2>Domestic capacity grows, unevenly</h2>" in html
