"""Settings for benchmarks: the project's own, plus a trivial view to compare against."""

from newsdesk.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
