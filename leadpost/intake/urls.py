from django.urls import re_path

from leadpost.intake import guide_views, views

# Both spellings, with and without the trailing slash, answer directly: a redirected POST is lost
# by most HTTP clients (SPEC §1).
urlpatterns = [
    re_path(r"^leadpost/(?P<token>[^/]+)/test/?$", views.lead_post, {"dry_run": True}),
    re_path(r"^leadpost/(?P<token>[^/]+)/?$", views.lead_post),
    # Every other path under /leadpost/ answers JSON too (SPEC §2).
    re_path(r"^leadpost(?:/(?P<path>.*))?$", views.no_such_url),
    # A vendor's guide behind its shared link (issue 15): a token of its own, not the URL's.
    # Any path under /guide/ is the view's, so a broken link is refused in words.
    re_path(r"^guide/(?P<token>.*)$", guide_views.shared_guide, name="shared_guide"),
]
