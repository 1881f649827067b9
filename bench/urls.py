from django.http import HttpRequest, HttpResponse
from django.urls import path

from newsdesk.urls import urlpatterns as site_urlpatterns


def trivial(request: HttpRequest) -> HttpResponse:
    """The cheapest page Django can serve through the same middleware: the baseline."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial), *site_urlpatterns]
