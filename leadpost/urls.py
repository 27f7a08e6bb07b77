from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from leadpost.accounts.staff import staff_site

admin.site.site_header = "Leadpost operators"
admin.site.site_title = "Leadpost operators"

handler400 = "leadpost.lib.errorpages.bad_request"
handler404 = "leadpost.lib.errorpages.page_not_found"
handler500 = "leadpost.lib.errorpages.server_error"

urlpatterns = [
    path("", include("leadpost.intake.urls")),
    path("api/v1/", include("leadpost.records.urls")),
    path("api/v1/", include("leadpost.vendors.urls")),
    path("api/v1/", include("leadpost.apidoc.urls")),  # the OpenAPI document and its page
    path("admin/", admin.site.urls),  # operators (superusers)
    path("staff/", staff_site.urls),  # agency staff, scoped to their account
    path("", RedirectView.as_view(url="/staff/", permanent=False)),
]
