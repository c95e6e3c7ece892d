"""Billing pages: /pricing/, and /o/<slug>/billing/... (one organization's)."""

from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("o/<slug:slug>/billing/", views.billing, name="billing"),
    path("o/<slug:slug>/billing/checkout/", views.checkout, name="checkout"),
    path("o/<slug:slug>/billing/portal/", views.portal, name="portal"),
    path("o/<slug:slug>/billing/subscription/cancel/", views.subscription_cancel_page, name="subscription_cancel"),
    path(
        "o/<slug:slug>/billing/subscription/reactivate/",
        views.subscription_reactivate_page,
        name="subscription_reactivate",
    ),
    path("o/<slug:slug>/billing/success/", views.checkout_success, name="success"),
    path("o/<slug:slug>/billing/cancel/", views.checkout_cancel, name="cancel"),
]
