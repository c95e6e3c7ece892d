from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"

    def ready(self):
        # Registers the API-key security scheme with drf-spectacular.
        from credits import auth  # noqa: F401
