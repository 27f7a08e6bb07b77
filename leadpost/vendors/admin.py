"""The vendor performance pages on the staff site (SPEC §13); their views are in views.py."""

from __future__ import annotations

from leadpost.accounts.staff import staff_site
from leadpost.vendors import views

staff_site.add_page("vendors/", views.vendors_page, "vendors")
staff_site.add_page("vendors/vendors.csv", views.vendors_csv, "vendors_csv")
staff_site.add_page("vendors/<str:url_id>/", views.vendor_page, "vendor")
staff_site.add_page("vendors/<str:url_id>/days.csv", views.vendor_days_csv, "vendor_days_csv")
staff_site.add_page(
    "vendors/<str:url_id>/warnings.csv", views.vendor_warnings_csv, "vendor_warnings_csv"
)
