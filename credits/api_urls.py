from django.urls import path

from credits import api

urlpatterns = [
    # The common request without DRF's dispatch, anything else by ConsumeView (credits/api.py).
    path("orgs/<slug:slug>/credits/consume/", api.consume, name="api-credits-consume"),
    path("orgs/<slug:slug>/credits/", api.CreditSummaryView.as_view(), name="api-credits"),
    path("orgs/<slug:slug>/credits/transactions/", api.TransactionListView.as_view(), name="api-credits-transactions"),
    path("orgs/<slug:slug>/credits/grants/", api.GrantListView.as_view(), name="api-credits-grants"),
]
