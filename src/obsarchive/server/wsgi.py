"""WSGI entry point (gunicorn ``obsarchive.server.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "obsarchive.server.settings")
application = get_wsgi_application()
