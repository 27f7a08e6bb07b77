"""Background work of Sales Workflows: e-mailing the agent a lead was assigned to."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task

from leadpost.records.models import Record


@task()
def notify_agent(record_id: int) -> str:
    record = (
        Record.objects.select_related("servicing_agent", "account", "lead_source", "status")
        .filter(pk=record_id)
        .first()
    )
    if record is None or record.servicing_agent is None or not record.servicing_agent.email:
        return "nobody to notify"
    agent = record.servicing_agent
    # Only what an agent needs to call the lead back; never the SSN or birth date.
    lines = [
        f"{agent.first_name}, a new lead was assigned to you in {record.account.name}:",
        "",
        f"Name: {record.first_name} {record.last_name}",
        f"Phone: {record.cell_phone or record.home_phone or '-'}",
        f"E-mail: {record.email or '-'}",
        f"State: {record.state or '-'}",
        f"Lead source: {record.lead_source.value if record.lead_source else '-'}",
        "",
        f"{settings.BASE_URL}/staff/records/salesrecord/{record.pk}/change/",
    ]
    send_mail(
        subject=f"New lead: {record.first_name} {record.last_name}",
        message="\n".join(lines),
        from_email=None,
        recipient_list=[agent.email],
    )
    return "sent"
