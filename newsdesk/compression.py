"""Compress public HTML, never a page that carries a secret (BREACH).

BREACH recovers a secret from a compressed response's size when the same response also reflects
text an attacker chose. Our public pages hold no secret: no CSRF token (search is a GET form),
no session data, nothing per user; the admin holds CSRF tokens and echoes its search box, so it
and any response that used the CSRF token are sent uncompressed. Static files are compressed
ahead of time by WhiteNoise.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware


class PublicGZipMiddleware(GZipMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(settings.NEWSDESK_UNCOMPRESSED_PREFIXES):
            return response
        if request.META.get("CSRF_COOKIE_NEEDS_UPDATE") or response.cookies:
            return response
        return super().process_response(request, response)
