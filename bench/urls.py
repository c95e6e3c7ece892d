from django.urls import path

from bench.views import raw_consume
from config.urls import urlpatterns as keel_urlpatterns

urlpatterns = [
    path("bench/raw-consume/", raw_consume),
    *keel_urlpatterns,
]
