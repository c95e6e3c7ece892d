from django.urls import path

from accounts import api

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("me/emails/", api.MyEmailsView.as_view(), name="api-me-emails"),
    path("me/emails/<str:email_id>/", api.MyEmailView.as_view(), name="api-me-email"),
    path("me/emails/<str:email_id>/make-primary/", api.MyEmailMakePrimaryView.as_view(), name="api-me-email-primary"),
    path(
        "me/emails/<str:email_id>/resend-verification/",
        api.MyEmailResendView.as_view(),
        name="api-me-email-resend",
    ),
    path("me/email-preferences/", api.MyEmailPreferencesView.as_view(), name="api-me-email-preferences"),
]
