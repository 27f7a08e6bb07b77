"""The answers to requests that no view could answer: JSON where clients are programs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from leadpost.lib.front import is_lead_path


def _json_client(request: HttpRequest) -> bool:
    return is_lead_path(request.path) or request.path.startswith("/api/")


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 (a bug of ours; the traceback is in the server log, redacted)."""
    if _json_client(request):
        body = {
            "result": "error",
            "errors": [
                {
                    "field": None,
                    "code": "server_error",
                    "message": "Leadpost failed to handle this request; the error is logged. "
                    "Post it again later, and tell the agency if it keeps happening.",
                }
            ],
        }
        return JsonResponse(body, status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refuses before any view (a Host header not in ALLOWED_HOSTS, ...)."""
    if _json_client(request):
        body = {
            "result": "error",
            "errors": [{"field": None, "code": "bad_request", "message": "Bad request."}],
        }
        return JsonResponse(body, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"error": {"code": "not_found", "message": "No such API endpoint."}}
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception)
