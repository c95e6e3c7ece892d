"""Everything under /api/v1/: each app contributes its `api_urls.urlpatterns`."""

from django.urls import include, path  # noqa: F401  (apps add their routes)

urlpatterns: list = [
    # Credits first: consumption is the hot path, and Django tries patterns in order.
    path("", include("credits.api_urls")),
    path("", include("accounts.api_urls")),
    path("", include("organizations.api_urls")),
    path("", include("billing.api_urls")),
]
