from django.urls import path

from leadpost.apidoc import views

# Under /api/v1/ beside the API they describe (leadpost/urls.py).
urlpatterns = [
    path("openapi.json", views.openapi_json, name="api-openapi"),
    path("docs", views.docs_page, name="api-docs"),
]
