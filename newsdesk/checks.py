"""System checks for settings that contradict each other."""

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_loopback_fetching(app_configs, **kwargs) -> list[CheckMessage]:
    if settings.NEWSDESK_ALLOW_LOOPBACK:
        return [
            Warning(
                "NEWSDESK_ALLOW_LOOPBACK is on: feeds could make the server fetch its own "
                "loopback services.",
                hint="Leave it off outside tests and the demo.",
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
