"""Routes of the frames app, mounted at the API root as upstream.

The router's root view answers ``GET /`` with the three collections, and format suffixes
(``/frames.json``) work as in the upstream DRF router. The signed URLs of filesystem and
memory stores are served by the downloads app (``download/``).
"""

from typing import Any

from rest_framework import routers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from obsarchive.server.frames import views


class ApiRootView(routers.APIRootView):
    """``GET /``: absolute URLs of the collections.

    Unlike DRF's root view it does not reverse inside the namespace of whatever route served
    it, so another app (the web interface) can answer ``/`` with this view for API clients.
    """

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(
            {
                prefix: reverse(name, request=request, format=kwargs.get("format"))
                for prefix, name in (self.api_root_dict or {}).items()
            }
        )


router = routers.DefaultRouter()
router.APIRootView = ApiRootView
router.register("frames", views.FrameViewSet, basename="frame")
router.register("versions", views.VersionViewSet, basename="version")
router.register("thumbnails", views.ThumbnailViewSet, basename="thumbnail")

urlpatterns = router.urls
