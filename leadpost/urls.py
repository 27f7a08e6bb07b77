from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("leadpost.intake.urls")),
    path("api/v1/", include("leadpost.records.urls")),
    path("admin/", admin.site.urls),
]
