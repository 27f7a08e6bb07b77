"""The vocabulary several apps share, one enum per concept (CONVENTIONS: vocabulary lives low).

An account says which record type its posts create, a post log row which one it was made for, a
record which one it is: one `RecordType` for all three. The value lists a post can name are one
`ListName`, whatever the record type (Sales Records have their own status list).
"""

from __future__ import annotations

from django.db import models


class RecordType(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    SALES_RECORD = "sales_record", "Sales Record"


class ListName(models.TextChoices):
    STATUS = "status", "Status (Individuals)"
    SALES_STATUS = "sales_status", "Status (Sales Records)"
    LEAD_SOURCE = "lead_source", "Lead source"
    TYPE = "type", "Type"
    PROJECT_CODE = "project_code", "Project code"
