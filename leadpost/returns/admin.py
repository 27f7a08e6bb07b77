"""The returns pages on the staff site (SPEC §14); their views are in views.py."""

from __future__ import annotations

from leadpost.accounts.staff import staff_site
from leadpost.returns import views

staff_site.add_page("returns/", views.report_page, "returns")
staff_site.add_page("returns/returns.csv", views.report_csv, "returns_csv")
staff_site.add_page("returns/record/<str:pk>/", views.return_view, "return_record")
staff_site.add_page("returns/record/<str:pk>/undo/", views.undo_view, "return_undo")
