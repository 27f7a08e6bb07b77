"""Records a lead post creates (Individuals, Sales Records) and the account's value lists."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import NotSupportedError, models
from django.utils import timezone

from leadpost.accounts.models import Account
from leadpost.lib.choices import ListName, RecordType
from leadpost.lib.encryption import decrypt_ssn
from leadpost.lib.text import collapse_spaces, list_key


class ListValue(models.Model):
    """One entry of an account's value list (status, lead source, type, project code)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="list_values")
    list_name = models.CharField(max_length=20, choices=ListName.choices)
    value = models.CharField(max_length=255)
    key = models.CharField(max_length=255, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["list_name", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "list_name", "key"], name="list_value_unique_per_account"
            )
        ]

    def __str__(self) -> str:
        return self.value

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.value = collapse_spaces(self.value)
        self.key = list_key(self.value)
        super().save(*args, **kwargs)


class Gender(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"


class YesNo(models.TextChoices):
    YES = "Y", "Yes"
    NO = "N", "No"


class WritingTransaction(models.Expression):
    """The database default of `Record.txid`: which transaction wrote the row, per database.

    PostgreSQL: the writing transaction's 64-bit id (`pg_current_xact_id()`, which never wraps
    around; the top-level transaction's even inside a savepoint). SQLite: 0 — one writer at a time
    there, so id order is already commit order. Any other database is refused rather than given
    a value that would let the read API's cursor skip records.
    """

    output_field = models.BigIntegerField()
    # No column references and nothing from the caller: a database default may be this.
    allowed_default = True

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(
            f"Record.txid has no default for {connection.vendor}: use PostgreSQL or SQLite"
        )

    def as_postgresql(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        return "pg_current_xact_id()::text::bigint", ()

    def as_sqlite(
        self, compiler: Any, connection: Any, **extra: Any
    ) -> tuple[str, tuple[Any, ...]]:
        return "0", ()


class Record(models.Model):
    """A lead as stored: an Individual or a Sales Record (one table, `record_type` says which).

    One table keeps externalID unique across both types per account (SPEC §3 duplicates), gives
    the read API one cursor over every new record (SPEC §11), and lets notes and custom field values
    point at one kind of row. `Individual` and `SalesRecord` are proxies for the admin and for code
    that speaks of one type.
    """

    # Indexed by the composite indexes below that begin with it, not on its own: every index is
    # one more write on every post (bench/README.md).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="records", db_index=False
    )
    record_type = models.CharField(max_length=20, choices=RecordType.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The Lead Post URL the record came by; null for records made by staff.
    lead_post_url = models.ForeignKey(
        "intake.LeadPostUrl", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # NULL, not "", when absent: the unique constraint below must not treat records without an
    # externalID as duplicates of each other.
    external_id = models.CharField("externalID", max_length=255, null=True, blank=True)  # noqa: DJ001

    first_name = models.TextField()
    last_name = models.TextField()
    middle_initial = models.CharField(max_length=1, blank=True)
    title = models.TextField(blank=True)
    birth_date = models.DateField(null=True, blank=True)
    lead_date = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True)
    smoker_status = models.CharField(max_length=1, choices=YesNo.choices, blank=True)
    email = models.EmailField(max_length=320, blank=True)
    # Encrypted (Fernet) and indexed by a keyed hash; never stored or shown in clear (SPEC §5, §9).
    ssn_encrypted = models.TextField(blank=True, editable=False)
    ssn_index = models.CharField(max_length=64, blank=True, editable=False)

    status = models.ForeignKey(
        ListValue, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    lead_source = models.ForeignKey(
        ListValue, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    type = models.ForeignKey(
        ListValue, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    project_code = models.ForeignKey(
        ListValue, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    lead_source_other = models.TextField(blank=True)

    home_phone = models.CharField(max_length=14, blank=True)
    cell_phone = models.CharField(max_length=14, blank=True)
    business_phone = models.CharField(max_length=14, blank=True)

    street1 = models.TextField(blank=True)
    street2 = models.TextField(blank=True)
    city = models.TextField(blank=True)
    state = models.CharField(max_length=2, blank=True)
    zip_code = models.CharField("zip", max_length=10, blank=True)
    county = models.CharField(max_length=100, blank=True)

    servicing_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="serviced_records",
    )
    lead_source_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sourced_records",
        db_index=False,
    )
    # Why the servicing agent was chosen by Lead Routing Rules (rule, skipped agents and why).
    routing = models.JSONField(null=True, blank=True)
    # The day (account's time zone) routing assigned it: what daily caps count.
    routed_on = models.DateField(null=True, blank=True)
    # The read API's cursor order is (txid, id): see leadpost/records/views.py for why it never
    # skips. Always set by the database at insert (WritingTransaction); never written by code.
    # 0 for records older than the column and on SQLite. The values belong to the PostgreSQL
    # cluster that assigned them: a logical dump restored into a new cluster starts its
    # transaction ids again below them (see the README's API section).
    txid = models.BigIntegerField(db_default=WritingTransaction(), editable=False)
    # A possible cross-vendor duplicate (SPEC §14): the earlier record of another Lead Post URL
    # whose phone, e-mail or SSN this one shares, found when this one was posted; and which of
    # those matched (MATCH_KINDS, comma-separated; never the values). Set in the record's INSERT.
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # the partial index below: only flagged records carry an entry
    )
    duplicate_matched = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # The database, not a check-then-insert, decides duplicates: two concurrent posts with
            # one externalID make one record (SPEC §3).
            models.UniqueConstraint(
                fields=["account", "external_id"], name="record_external_id_unique_per_account"
            )
        ]
        indexes = [
            models.Index(fields=["account", "id"]),
            models.Index(fields=["routed_on", "servicing_agent"]),
            # The read API's list: one account's records in cursor order.
            models.Index(fields=["account", "txid", "id"], name="record_account_cursor"),
            # Matching by SSN within an account (its blind index), for the records that have one.
            models.Index(
                fields=["account", "ssn_index"],
                condition=~models.Q(ssn_index=""),
                name="record_account_ssn",
            ),
            # A flagged record's earlier one, found when that one is deleted (SET_NULL).
            models.Index(
                fields=["duplicate_of"],
                condition=models.Q(duplicate_of__isnull=False),
                name="record_duplicate_of",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def ssn_masked(self) -> str:
        if not self.ssn_encrypted:
            return ""
        return "***-**-" + decrypt_ssn(self.ssn_encrypted)[-4:]


class IndividualManager(models.Manager["Individual"]):
    def get_queryset(self) -> models.QuerySet[Individual]:
        return super().get_queryset().filter(record_type=RecordType.INDIVIDUAL)


class SalesRecordManager(models.Manager["SalesRecord"]):
    def get_queryset(self) -> models.QuerySet[SalesRecord]:
        return super().get_queryset().filter(record_type=RecordType.SALES_RECORD)


class Individual(Record):
    """An Individual Record: what a post creates in the legacy mode (SPEC §10 Lead Post Utility)."""

    objects = IndividualManager()  # type: ignore[misc]

    class Meta:
        proxy = True


class SalesRecord(Record):
    """A Sales Record (Sales Enablement Lead)."""

    objects = SalesRecordManager()  # type: ignore[misc]

    class Meta:
        proxy = True


class MatchKey(models.Model):
    """One phone, e-mail or SSN a Lead Post URL sent, as the cross-vendor duplicate look-up reads
    it (SPEC §14; leadpost/records/duplicates.py): a keyed hash, never the value; the record
    that sent it; when. Written at most once a day per key and URL, and purged past the longest
    window (purge-post-log)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, db_index=False, related_name="+")
    key = models.BigIntegerField()
    # The URL's id, not a foreign key: nothing here needs the URL row, and a URL's deletion need
    # not touch this table.
    lead_post_url_id = models.BigIntegerField()
    # Deleted with its record (found by its own index); created_at is the record's, for the window.
    record = models.ForeignKey("Record", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            # The look-up: an account's rows of a few keys, within the window.
            models.Index(fields=["account", "key", "created_at"], name="match_key_lookup"),
        ]

    def __str__(self) -> str:
        return f"match key of record {self.record_id}"


class Note(models.Model):
    """A note on a record, from a post (SPEC §8). Part of the record's audit trail: no API edits or
    deletes it."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="notes")
    number = models.PositiveSmallIntegerField(help_text="N of attachment_note_N_* in the post.")
    subject = models.TextField()
    body = models.TextField()
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-pinned", "id"]
        constraints = [
            # At most one pinned note per record (SPEC §8: pinning un-pins every other note).
            models.UniqueConstraint(
                fields=["record"],
                condition=models.Q(pinned=True),
                name="one_pinned_note_per_record",
            )
        ]

    def __str__(self) -> str:
        return self.subject[:80]


class AttachmentState(models.TextChoices):
    PENDING = "pending", "Pending"
    STORED = "stored", "Stored"
    FAILED = "failed", "Failed"


def attachment_storage_name(account_id: int, key: str, file_name: str) -> str:
    """Where an attachment's bytes live in storage: unique per attachment (`key`) and the same on
    every retry, so a retried download overwrites its own file instead of storing a second copy."""
    return f"attachments/{account_id}/{key}/{file_name}"


class Attachment(models.Model):
    """A file of a note: posted as base64 (stored with the record) or as a URL (downloaded later).

    This row is the truth about the file (state, attempts, last error); background tasks only nudge
    it, so a task lost with a crashed worker is found again by the sweep.
    """

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="attachments")
    number = models.PositiveSmallIntegerField(help_text="M of attachment_note_N_file_*_M.")
    key = models.CharField(max_length=32, editable=False)
    file_name = models.CharField(max_length=255)
    source_url = models.TextField(blank=True)
    state = models.CharField(
        max_length=10, choices=AttachmentState.choices, default=AttachmentState.PENDING
    )
    # Named by attachment_storage_name(); set by the code that writes the bytes.
    file = models.FileField(upload_to="attachments/", max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    content_type = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While a worker downloads, it holds the lease; an expired lease means the worker died.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["note_id", "number"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return self.file_name


class FieldType(models.TextChoices):
    """The custom field types of SPEC §7."""

    TEXT_FIELD = "text", "Text Field"
    TEXT_AREA = "textarea", "Text Area"
    NUMBER = "number", "Number"
    CURRENCY = "currency", "Currency"
    PERCENT = "percent", "Percent"
    DATE = "date", "Date"
    CHECKBOX = "checkbox", "Checkbox"
    DROPDOWN = "dropdown", "Dropdown"
    CHECKBOX_LIST = "checkbox_list", "Checkbox List"


class CustomField(models.Model):
    """An account's own field on Individuals or Sales Records, posted as `custom_<Name>` (SPEC §7)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="custom_fields")
    entity_type = models.CharField(max_length=20, choices=RecordType.choices)
    # Exactly as vendors must spell it after `custom_`, spaces and case included.
    name = models.CharField(max_length=100)
    field_type = models.CharField("type", max_length=20, choices=FieldType.choices)
    active = models.BooleanField(default=True)
    # Dropdown and Checkbox List options, in the order shown; posts add missing ones.
    options = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["entity_type", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "entity_type", "name"], name="custom_field_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def parameter(self) -> str:
        return f"custom_{self.name}"

    @property
    def has_options(self) -> bool:
        return self.field_type in (FieldType.DROPDOWN, FieldType.CHECKBOX_LIST)


class CustomFieldValue(models.Model):
    """A record's value of a custom field, normalised per its type (text in every case)."""

    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="custom_values")
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="values")
    value = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "field"], name="custom_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.field}: {self.value}"
