"""The vendor's guide pages (issue 15): for staff on the staff site, and behind a shared link.

Staff with Manage Lead Post URLs open a URL's guide (and its printable version) from the URL's
page, and make or revoke its shared link there. The shared link is a capability URL: opened
without logging in, so it holds nothing of the posting token, is not indexed, sends no Referer,
is not cached, and is rate-limited per client address.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST, require_safe

from leadpost.accounts.models import Permission
from leadpost.accounts.staff import staff_site, staff_user
from leadpost.intake.guide import build_guide
from leadpost.intake.models import GuideLink, LeadPostUrl
from leadpost.lib.clientaddr import client_ip

TITLE = "Vendor's guide"
NEEDED = "Manage Lead Post URLs"
# Longer than any id a row can have (a bigint): refused before it reaches the database.
MAX_ID_DIGITS = 18
# Shared-guide requests per client address and minute, per server process: a vendor opens the
# guide a few times; a client walking through guessed links is slowed (they cannot be guessed:
# 256 random bits, but a capability URL still should not be an oracle at full speed).
SHARED_PER_MINUTE = 30

# A capability URL: not indexed, not leaked through Referer to the links it holds, not cached.
_CAPABILITY_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store, private",
}


def shared_link(token: str) -> str:
    return f"{settings.BASE_URL}/guide/{token}"


def _staff_url(request: HttpRequest, url_id: str) -> LeadPostUrl | HttpResponse:
    """The user's account's URL with this id, the 403 page, or 404 (another account's too)."""
    user = staff_user(request)
    if not user.has_account_permission(Permission.MANAGE_URLS):
        return staff_site.forbidden(request, TITLE, NEEDED)
    if not url_id.isascii() or not url_id.isdigit() or len(url_id) > MAX_ID_DIGITS:
        raise Http404("No such Lead Post URL.")
    urls = LeadPostUrl.objects.select_related("account").filter(pk=int(url_id))
    if not user.is_superuser:
        urls = urls.filter(account_id=user.account_id or 0)
    url = urls.first()
    if url is None:
        raise Http404("No such Lead Post URL.")
    return url


def _change_page(url: LeadPostUrl) -> str:
    return reverse("staff:intake_leadposturl_change", args=[url.pk])


def _guide_context(url: LeadPostUrl, *, staff: bool) -> dict[str, Any]:
    return {"guide": build_guide(url, staff=staff), "staff": staff}


@require_safe
def staff_guide(request: HttpRequest, url_id: str) -> HttpResponse:
    """The guide in the staff site's frame, with links to print and share it."""
    url = _staff_url(request, url_id)
    if isinstance(url, HttpResponse):
        return url
    guide = build_guide(url, staff=True)
    context = {
        **staff_site.each_context(request),
        "guide": guide,
        "staff": True,
        "title": f"{TITLE}: {guide.label}",
        "url_id": url.pk,
        "change_page": _change_page(url),
        "live_link": GuideLink.live(url),
    }
    return TemplateResponse(request, "staff/intake/guide.html", context)


@require_safe
def staff_guide_print(request: HttpRequest, url_id: str) -> HttpResponse:
    """The guide as a document of its own, to print or save as PDF (print CSS, no script)."""
    url = _staff_url(request, url_id)
    if isinstance(url, HttpResponse):
        return url
    return TemplateResponse(request, "intake/guide_document.html", _guide_context(url, staff=True))


@require_POST
def share_guide(request: HttpRequest, url_id: str) -> HttpResponse:
    url = _staff_url(request, url_id)
    if isinstance(url, HttpResponse):
        return url
    _link, token = GuideLink.share(url, by=staff_user(request))
    messages.warning(
        request,
        format_html(
            "Shared guide link for {} — shown once, copy it now and send it to the vendor "
            "(it does not hold the Lead Post URL; making a new one revokes this one): "
            "<code>{}</code>",
            build_guide(url, staff=True).label,
            shared_link(token),
        ),
    )
    return HttpResponseRedirect(_change_page(url))


@require_POST
def revoke_guide(request: HttpRequest, url_id: str) -> HttpResponse:
    url = _staff_url(request, url_id)
    if isinstance(url, HttpResponse):
        return url
    if GuideLink.revoke_all(url):
        messages.success(request, "The shared guide link was revoked: it now answers 404.")
    else:
        messages.info(request, "This URL had no shared guide link.")
    return HttpResponseRedirect(_change_page(url))


def _over_rate(request: HttpRequest) -> bool:
    key = f"guide-shared:{client_ip(request.META) or 'unknown'}"
    cache.add(key, 0, timeout=60)
    try:
        return cache.incr(key) > SHARED_PER_MINUTE
    except ValueError:  # expired between add and incr: this is the window's first request
        cache.add(key, 1, timeout=60)
        return False


@require_safe
def shared_guide(request: HttpRequest, token: str) -> HttpResponse:
    """The guide behind a shared link, without logging in; 404 in words once revoked."""
    if _over_rate(request):
        response: HttpResponse = TemplateResponse(
            request, "intake/guide_refused.html", {"reason": "rate"}, status=429
        )
        response["Retry-After"] = "60"
    else:
        link = GuideLink.find(token.removesuffix("/"))
        if link is None:
            response = TemplateResponse(
                request, "intake/guide_refused.html", {"reason": "gone"}, status=404
            )
        else:
            context = _guide_context(link.lead_post_url, staff=False)
            response = TemplateResponse(request, "intake/guide_document.html", context)
    for name, value in _CAPABILITY_HEADERS.items():
        response[name] = value
    return response
