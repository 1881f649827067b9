"""System checks for settings that contradict each other."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security)
def check_allowed_hosts(app_configs, **kwargs) -> list[CheckMessage]:
    from articles.http import parse_allowed_hosts

    try:
        allowed = parse_allowed_hosts(settings.NEWSDESK_ALLOW_HOSTS)
    except ValueError as exc:
        return [
            Error(
                f"NEWSDESK_ALLOW_HOSTS: {exc}.",
                hint="List exact host:port pairs separated by commas.",
                id="newsdesk.E001",
            )
        ]
    if allowed and not settings.DEBUG:
        shown = ", ".join(f"{host}:{port}" for host, port in sorted(allowed))
        return [
            Warning(
                f"NEWSDESK_ALLOW_HOSTS lets feeds reach {shown} whatever its address.",
                hint="Leave it empty outside tests and the demo.",
                id="newsdesk.W001",
            )
        ]
    return []


@register()
def check_shared_cache(app_configs, **kwargs) -> list[CheckMessage]:
    uses_broker = not settings.CELERY_TASK_ALWAYS_EAGER
    local_cache = settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    if uses_broker and local_cache:
        return [
            Warning(
                "Celery workers run out of process but the cache is local memory, so per-host "
                "politeness and robots.txt caching are not shared between workers.",
                hint="Set REDIS_URL so the cache lives in Redis.",
                id="newsdesk.W002",
            )
        ]
    return []
