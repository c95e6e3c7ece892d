from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self):
        from django.core.signals import request_finished

        from core import (
            checks,  # noqa: F401  (registers the system checks)
            context,
        )

        request_finished.connect(context.request_end, dispatch_uid="keel.request_end")
