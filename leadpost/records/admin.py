from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from leadpost.records.models import Individual, ListValue, Record, SalesRecord

RECORD_FIELDS = [
    "id",
    "account",
    "created_at",
    "lead_post_url",
    "external_id",
    "first_name",
    "middle_initial",
    "last_name",
    "title",
    "birth_date",
    "ssn_masked",
    "gender",
    "smoker_status",
    "email",
    "status",
    "lead_source",
    "lead_date",
    "home_phone",
    "cell_phone",
    "street1",
    "street2",
    "city",
    "state",
    "zip_code",
    "county",
    "servicing_agent",
]
INDIVIDUAL_ONLY = [
    "type",
    "project_code",
    "lead_source_other",
    "business_phone",
    "lead_source_agent",
]


class RecordAdmin(admin.ModelAdmin[Record]):
    """Records are what vendors sent: operators read them here; staff pages come per account."""

    list_display = [
        "id",
        "first_name",
        "last_name",
        "account",
        "status",
        "lead_source",
        "servicing_agent",
        "lead_date",
        "created_at",
    ]
    list_filter = ["account", "status", "lead_source", "created_at"]
    search_fields = [
        "=id",
        "first_name",
        "last_name",
        "email",
        "external_id",
        "home_phone",
        "cell_phone",
    ]
    list_select_related = ["account", "status", "lead_source", "servicing_agent"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Record | None = None) -> bool:
        return False

    @admin.display(description="SSN")
    def ssn_masked(self, obj: Record) -> str:
        return obj.ssn_masked or "—"


@admin.register(Individual)
class IndividualAdmin(RecordAdmin):
    fields = readonly_fields = (*RECORD_FIELDS, *INDIVIDUAL_ONLY)


@admin.register(SalesRecord)
class SalesRecordAdmin(RecordAdmin):
    fields = readonly_fields = tuple(RECORD_FIELDS)


@admin.register(ListValue)
class ListValueAdmin(admin.ModelAdmin[ListValue]):
    list_display = ["value", "list_name", "account", "created_at"]
    list_filter = ["list_name", "account"]
    search_fields = ["value"]
    fields = ["account", "list_name", "value"]
