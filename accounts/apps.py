from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from accounts.sessions import on_user_logged_in

        # Peripheral: it records when the session signed in, for re-authentication (docs/accounts.md).
        user_logged_in.connect(on_user_logged_in, dispatch_uid="accounts.auth_stamp")
