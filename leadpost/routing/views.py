"""The agent's own page: whether they are e-mailed the leads assigned to them (SPEC §12)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from leadpost.accounts.staff import staff_site, staff_user
from leadpost.routing.models import AgentProfile


class LeadEmailsForm(forms.Form):
    notify_new_leads = forms.BooleanField(
        label="E-mail me my new leads",
        required=False,
        help_text="An e-mail at once for every lead assigned to you: who, how to reach them, "
        "the vendor, the lead source and a link to the lead's page.",
    )


def my_lead_emails(request: HttpRequest) -> HttpResponse:
    """Every account user turns their own lead e-mails on or off; nobody else's (the form names
    no user: the page always changes the one logged in)."""
    user = staff_user(request)
    if user.account_id is None or user.is_operator:
        # Operators are no account's agents: no lead is ever assigned to them.
        return staff_site.forbidden(request, "My lead e-mails", "membership of an account")
    profile = AgentProfile.objects.filter(user=user).first()
    current = profile.notify_new_leads if profile is not None else True
    # Bound on every POST: an unticked box sends nothing, and the POST may then be empty.
    bound = request.POST if request.method == "POST" else None
    form = LeadEmailsForm(bound, initial={"notify_new_leads": current})
    if request.method == "POST" and form.is_valid():
        wanted: bool = form.cleaned_data["notify_new_leads"]
        with transaction.atomic():
            # Made on first use with the model's defaults: routing treats a user without a
            # profile the same way, so creating one changes nothing but this switch.
            profile, _ = AgentProfile.objects.select_for_update().get_or_create(user=user)
            if profile.notify_new_leads != wanted:
                profile.notify_new_leads = wanted
                profile.save(update_fields=["notify_new_leads"])
        messages.success(
            request,
            "You will be e-mailed each lead assigned to you."
            if wanted
            else "You will not be e-mailed the leads assigned to you.",
        )
        return HttpResponseRedirect(reverse("staff:my_lead_emails"))
    context = {
        **staff_site.each_context(request),
        "title": "My lead e-mails",
        "form": form,
        "on": current,
    }
    return TemplateResponse(request, "staff/my_lead_emails.html", context)
