from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing import views as billing_views
from billing import webhook_view
from core import csp, health

urlpatterns = [
    # The API first: Django tries the patterns in order, and the API is what is called most.
    path("api/v1/", include("config.api_urls")),
    path("", billing_views.landing, name="home"),
    # Answered by core.health.HealthCheckMiddleware before the rest of the middleware runs.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Content Security Policy violation reports (core/csp.py).
    path("csp-report/", csp.csp_report, name="csp-report"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (?script), not
    # inline, so the page keeps the Content Security Policy (docs/deploy.md).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Stripe's webhooks: Keel's guard (billing/webhook_view.py), then dj-stripe's view.
    path("stripe/webhook/<uuid:uuid>/", webhook_view.stripe_webhook, name="stripe-webhook"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("accounts/", include("accounts.urls")),
    # /orgs/ (list, create, switch), /o/<slug>/... (one organization), /invitations/accept/<token>/
    path("", include("organizations.urls")),
    # /o/<slug>/ (the organization's dashboard), /o/<slug>/credits/ (usage) and /o/<slug>/api-keys/
    path("o/<slug:slug>/", include("credits.urls")),
    # /pricing/ and /o/<slug>/billing/... (plan, invoices, checkout's way back)
    path("", include("billing.urls")),
]

# JSON in the API's error shape for /api/ paths, Django's own pages elsewhere.
handler400 = "core.views.bad_request"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

# Uploads (avatars) in development only: `static()` is empty unless DEBUG; production
# serves MEDIA_ROOT from the web server or object storage (docs/accounts.md, "Avatars").
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
