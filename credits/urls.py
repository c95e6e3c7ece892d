"""Credits pages, included under /o/<slug>/ (config/urls.py)."""

from django.urls import path

from credits import views

app_name = "credits"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("credits/", views.usage, name="usage"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<uuid:api_key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
