from django.urls import path

from accounts.views import account, auth, export, google, impersonation, links

app_name = "accounts"

urlpatterns = [
    path("signup/", auth.signup, name="signup"),
    path("login/", auth.SignInView.as_view(), name="login"),
    path("logout/", auth.SignOutView.as_view(), name="logout"),
    path("password/", auth.password_change, name="password_change"),
    path("password/reset/", auth.password_reset, name="password_reset"),
    path("password/reset/sent/", auth.password_reset_sent, name="password_reset_sent"),
    path("password/reset/<str:uidb64>/<str:token>/", auth.password_reset_confirm, name="password_reset_confirm"),
    path("verify/<str:token>/", links.verify_email, name="verify_email"),
    path("unsubscribe/<str:token>/", links.unsubscribe, name="unsubscribe"),
    path("google/login/", google.google_login, name="google_login"),
    path("google/callback/", google.google_callback, name="google_callback"),
    path("", account.profile, name="profile"),
    path("emails/", account.emails, name="emails"),
    path("emails/<str:email_id>/resend/", account.email_resend, name="email_resend"),
    path("emails/<str:email_id>/primary/", account.email_primary, name="email_primary"),
    path("emails/<str:email_id>/remove/", account.email_delete, name="email_remove"),
    path("email-preferences/", account.preferences, name="preferences"),
    path("delete/", account.delete, name="delete"),
    path("export/", export.data_export, name="data_export"),
    # Started from the admin's user page (accounts/admin.py); stopped from the banner.
    path("impersonation/stop/", impersonation.ImpersonationStopView.as_view(), name="impersonation_stop"),
]
