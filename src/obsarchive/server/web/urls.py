"""Routes of the web interface, mounted at the root before the API's routes.

``""`` takes the API root over: browsers asking for HTML are sent to ``/ui/``, everyone else
gets the API root as before.
"""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from obsarchive.server.web import views

app_name = "web"

ui_patterns = [
    path("", views.search, name="search"),
    path("count/", views.count, name="count"),
    path("frames/<int:pk>/", views.frame_detail, name="frame"),
    path("download/", views.download, name="download"),
    path("export/<str:fmt>/", views.export, name="export"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True, next_page="web:search"
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="web:search"), name="logout"),
    path("profile/", views.profile, name="profile"),
]

urlpatterns = [
    path("", views.root, name="root"),
    path("resolve/", views.ResolveView.as_view(), name="resolve"),
    path("ui/", include(ui_patterns)),
]
