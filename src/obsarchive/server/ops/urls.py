"""Operational routes: health and API documentation."""

from django.urls import path

from obsarchive.server.ops import views

urlpatterns = [
    path("health/", views.HealthView.as_view(), name="health"),
    path("openapi/", views.OpenApiView.as_view(), name="openapi-schema"),
    path("redoc/", views.RedocView.as_view(), name="redoc"),
]
