from django.urls import path

from leadpost.vendors import api

# Under /api/v1/ beside the records (leadpost/urls.py). The id is read as text so that anything
# but a number of this account's URLs is the API's JSON 404, never the router's page.
urlpatterns = [
    path("vendors", api.vendor_list, name="api-vendor-list"),
    path("vendors/<str:url_id>", api.vendor_detail, name="api-vendor-detail"),
]
