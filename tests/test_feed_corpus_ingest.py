"""Every real-world feed in the shared corpus, served over HTTP and polled by the real verb.

Each one either ingests or is marked on its feed with an error; none stops the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from articles.ingest import ingest_feeds
from articles.models import Feed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "feeds"
FILES = sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and p.name not in {"README.md", "MANIFEST.tsv"}
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not FILES, reason=f"the shared feed corpus is not at {CORPUS}"),
]


def test_every_corpus_feed_ingests_or_is_marked_with_its_error(httpserver, settings):
    settings.NEWSDESK_OBEY_ROBOTS = False
    feeds = []
    for path in FILES:
        rel = path.relative_to(CORPUS).as_posix()
        httpserver.expect_request(f"/{rel}").respond_with_data(
            path.read_bytes(), content_type="application/xml"
        )
        feeds.append(Feed.objects.create(url=httpserver.url_for(f"/{rel}")))

    # Poll only: the entries' links point at the real internet, which tests never touch.
    report = ingest_feeds(feeds, on_feed=None, on_article=None, fetch_articles=False)

    assert report.ok + report.failed == len(FILES)
    statuses = dict(Feed.objects.values_list("url", "last_status"))
    errors = dict(
        Feed.objects.filter(last_status=Feed.Status.ERROR).values_list("url", "last_error")
    )
    assert set(statuses.values()) <= {Feed.Status.OK, Feed.Status.ERROR}
    assert all(errors.values()), "every failed feed says why"
    assert report.failed < len(FILES) // 5
    assert report.new_articles > 1000
    notafeed = httpserver.url_for("/danmactough-node-feedparser/test/feeds/notafeed.html")
    assert statuses[notafeed] == Feed.Status.ERROR
