"""The bundled demo corpus: three invented publishers served from this machine.

The paths below name the deliberate traps in the feeds, so end-to-end tests can say what the
pipeline must make of them.
"""

from articles.demo.server import SITE_ROOT, DemoSite

# Linked from a feed, but no page exists: the fetch answers 404.
MISSING_PATHS: tuple[str, ...] = ("/mineral-wire/articles/cobalt-quota-2027.html",)
# Linked from a feed, answers 200 with a near-empty "This page has moved" stub.
STUB_PATHS: tuple[str, ...] = ("/harbour-ledger/articles/trade-desk-moved.html",)
# The same article URL is an item in two publishers' feeds (different GUIDs and titles).
SHARED_PATHS: tuple[str, ...] = ("/mineral-wire/articles/gallium-curbs.html",)
# Linked from a feed with utm_* parameters; the page's canonical link is the clean URL.
TRACKED_PATHS: tuple[str, ...] = ("/harbour-ledger/articles/battery-tariff-review.html",)
# One event told by two publishers in their own words: assignment makes them one story.
STORY_PATHS: tuple[str, ...] = (
    "/mineral-wire/articles/heavy-rare-earth-separation.html",
    "/pacific-desk/articles/sarawak-heavy-rare-earths.html",
)
# Pages that should each become exactly one article after a full ingest of every feed.
ARTICLE_COUNT = 15

__all__ = [
    "ARTICLE_COUNT",
    "MISSING_PATHS",
    "SHARED_PATHS",
    "SITE_ROOT",
    "STORY_PATHS",
    "STUB_PATHS",
    "TRACKED_PATHS",
    "DemoSite",
]
