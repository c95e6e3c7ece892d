from django.urls import path

from bench.views import healthz, raw_consume

urlpatterns = [
    path("bench/raw-consume/", raw_consume),
    path("healthz", healthz),
]
