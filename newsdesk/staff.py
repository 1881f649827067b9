"""Editing links on public pages for signed-in staff, kept out of every copy readers get.

A public page that shows an "Edit" link to staff is two pages at one URL. The staff copy gets
its own ETag (so neither copy ever answers 304 for the other, and neither cache entry keyed by
ETag serves the other), is marked private (no shared cache stores it), skips the in-process hot
cache, and both copies say `Vary: Cookie`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

STAFF_ETAG_SUFFIX = "-edit"


def signed_in_staff(request: HttpRequest) -> bool:
    # Readers carry no session cookie: they never cost a session or user lookup here.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def can_edit(request: HttpRequest, permission: str) -> bool:
    """Whether the page shows this viewer an edit link (templates check the same two things:
    ``user.is_staff`` and the permission)."""
    return signed_in_staff(request) and request.user.has_perm(permission)


def staff_etag(etag: str) -> str:
    return etag + STAFF_ETAG_SUFFIX


def per_viewer(response: HttpResponseBase, editing: bool) -> HttpResponseBase:
    patch_vary_headers(response, ["Cookie"])
    if editing:
        patch_cache_control(response, private=True)
    return response
