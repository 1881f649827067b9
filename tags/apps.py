from django.apps import AppConfig


class TagsConfig(AppConfig):
    name = "tags"
    verbose_name = "Topics"

    def ready(self) -> None:
        from tags import checks, signals  # noqa: F401 - registers checks, connects receivers
