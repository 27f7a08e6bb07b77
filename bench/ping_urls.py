"""The project's URLs plus the trivial endpoint the load benchmark measures the ceiling with."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from leadpost.urls import handler400, handler404, handler500  # noqa: F401 - Django reads them here
from leadpost.urls import urlpatterns as leadpost_urlpatterns


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"pong", content_type="text/plain")


urlpatterns = [path("bench/ping", ping), *leadpost_urlpatterns]
