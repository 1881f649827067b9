"""What honest validators cost: revalidating a topic page and the site feed, and the write side.

    uv run python bench/generate.py --database newsdesk_scale      # once
    uv run python bench/validators.py --database newsdesk_scale [--requests 200]

Prints p50/p95 of: a conditional GET of the biggest topic's page that answers 304 (validators
from the tag row, `Tag.content_changed_at`), the site feed's validators now (its 30 ids, the
newest `updated_at` of any article and `content_changed_at` of any topic) against the two reads
they replace (newest article, highest id), and the write an article save now adds (moving the
stamp of the topics it is in). Ratios are against the old reads measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pages import configure, percentile  # noqa: E402


def _time(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="newsdesk_scale")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    configure(args.database)

    from django.db import transaction
    from django.db.models import Max
    from django.test import Client

    from articles.models import Article
    from tags import freshness
    from tags.feeds import LatestRss
    from tags.models import ArticleTag, Tag

    n = args.requests
    client = Client()
    tag = Tag.objects.order_by("-article_count").first()
    url = tag.get_absolute_url()
    etag = client.get(url)["ETag"]

    def revalidate() -> None:
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304

    def old_feed_validators() -> None:
        Article.objects.visible().order_by("-published_at", "-id").values_list(
            "published_at", "id"
        ).first()
        Article.objects.aggregate(m=Max("id"))

    feed = LatestRss()
    article_id = ArticleTag.objects.filter(tag=tag).values_list("article_id", flat=True).first()

    def touch() -> None:
        with transaction.atomic():
            freshness.touch_article(article_id)
            transaction.set_rollback(True)

    figures = [
        ("topic page revalidation (304), biggest topic", _time(revalidate, n)),
        ("site feed validators, before (2 reads)", _time(old_feed_validators, n)),
        ("site feed validators, now (3 reads)", _time(feed.validators, n)),
        ("article save: touch its topics (rolled back)", _time(touch, n)),
    ]
    print(f"database {args.database}: {Article.objects.count():,} articles, biggest topic "
          f"{tag.article_count:,}; {n} runs each")  # fmt: skip
    for name, (p50, p95) in figures:
        print(f"  {name:<50} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")
    before, now = figures[1][1][1], figures[2][1][1]
    print(f"  site feed validators now/before at p95: {now / before:.2f}x")


if __name__ == "__main__":
    main()
