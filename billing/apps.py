from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        from billing import webhooks  # noqa: F401  (connects the receivers)
        from billing.stripe_api import configure_library

        configure_library()
