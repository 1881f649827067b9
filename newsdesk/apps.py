from django.apps import AppConfig


class NewsdeskConfig(AppConfig):
    name = "newsdesk"

    def ready(self) -> None:
        from newsdesk import checks  # noqa: F401 - registers the system checks
