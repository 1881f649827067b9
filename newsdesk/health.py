"""/healthz: is the database reachable, is the broker reachable.

Anyone (a load balancer, compose's healthcheck) gets the status code and "ok" or "unavailable";
the details (exception text names hosts, users and databases) go to operators only: superusers
and members of the Operators group, signed in to the admin, and to the log.
"""

import logging
import time

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from kombu.exceptions import OperationalError as KombuOperationalError

from newsdesk.celery import app

log = logging.getLogger(__name__)
OPERATORS_GROUP = "Operators"


def _check_database() -> dict[str, object]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor, "ms": _ms_since(started)}


def _check_broker() -> dict[str, object]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "in-process (no broker configured)"}
    started = time.perf_counter()
    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except (KombuOperationalError, OSError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "mode": "broker", "ms": _ms_since(started)}


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _checks() -> tuple[bool, dict[str, dict[str, object]]]:
    checks = {"database": _check_database(), "broker": _check_broker()}
    ok = all(check["ok"] for check in checks.values())
    if not ok:
        log.warning("health check failed: %s", checks)
    return ok, checks


def _public(ok: bool) -> HttpResponse:
    response = HttpResponse(
        "ok\n" if ok else "unavailable\n",
        status=200 if ok else 503,
        content_type="text/plain; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    return response


def is_operator(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=OPERATORS_GROUP).exists()


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    ok, checks = _checks()
    if not is_operator(request.user):
        return _public(ok)
    body = {"status": "ok" if ok else "unavailable", **checks}
    return JsonResponse(body, status=200 if ok else 503)


class HealthzAnyHostMiddleware:
    """Answer /healthz on any Host header, before anything validates it.

    A container's healthcheck calls 127.0.0.1:8000 while ALLOWED_HOSTS names the public host, so
    host validation would answer 400. A request whose Host is allowed goes on through the whole
    stack (and an operator signed in gets the details); any other gets the public answer only.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            try:
                request.get_host()
            except DisallowedHost:
                return _public(_checks()[0])
        return self.get_response(request)
