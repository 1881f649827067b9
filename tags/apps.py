from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Topics"

    def ready(self) -> None:
        from tags import signals  # noqa: F401 - connects the count-keeping receivers
