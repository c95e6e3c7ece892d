from django.urls import path

from billing import api

urlpatterns = [
    path("prices/", api.PriceListView.as_view(), name="api-prices"),
    path("orgs/<slug:slug>/subscription/", api.TenantPlanView.as_view(), name="api-billing-subscription"),
    path("orgs/<slug:slug>/invoices/", api.InvoiceListView.as_view(), name="api-billing-invoices"),
    path("orgs/<slug:slug>/checkout/", api.CheckoutView.as_view(), name="api-billing-checkout"),
    path("orgs/<slug:slug>/billing-portal/", api.BillingPortalView.as_view(), name="api-billing-portal"),
]
