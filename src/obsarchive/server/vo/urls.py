"""Routes of the VO interfaces, mounted at ``vo/``.

All services are siblings of the capabilities resource (SIA 2.0 section 2, SODA 1.0 section
2.1), and every path answers with and without a trailing slash: DALI clients must never be
redirected. Anything else under ``vo/`` is a plain 404 -- pyvo, given ``.../vo/sia2``, first
asks for ``.../vo/sia2/capabilities`` and goes on to the sibling only after a 404.
"""

from django.urls import path, re_path

from obsarchive.server.vo import views

urlpatterns = [
    path("", views.index, name="vo-index"),
    path("capabilities", views.capabilities, name="vo-capabilities"),
    path("capabilities/", views.capabilities),
    path("availability", views.availability, name="vo-availability"),
    path("availability/", views.availability),
    path("sia2", views.sia, name="vo-sia2"),
    path("sia2/", views.sia),
    path("links", views.links, name="vo-links"),
    path("links/", views.links),
    path("soda", views.soda, name="vo-soda"),
    path("soda/", views.soda),
    re_path(r"^(?P<rest>.+)$", views.not_found),
]
