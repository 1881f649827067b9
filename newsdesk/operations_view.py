"""The operators' page in the admin: the state of the work at a glance."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from newsdesk.operations import AGE_BUCKETS, snapshot
from stories import failures


def operations(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("articles.view_feed"):
        raise PermissionDenied
    snap = snapshot()
    context = {
        **admin.site.each_context(request),
        "title": "Operations",
        "snap": snap,
        "story_window_days": settings.NEWSDESK_STORY_WINDOW_DAYS,
        "story_attempts": len(failures.RETRY_AFTER) + 1,
        "age_labels": [label for label, _ in AGE_BUCKETS],
        "unfinished_rows": [
            (state, [buckets[label] for label, _ in AGE_BUCKETS])
            for state, buckets in snap.unfinished_by_age.items()
        ],
    }
    return TemplateResponse(request, "admin/operations.html", context)
