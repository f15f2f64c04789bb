"""Django settings for the test suite: the real settings on a throw-away home.

``DATABASE_URL`` chooses the database (SQLite in a temporary folder by default; CI also runs the
server suite with ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/obsarchive``).
"""

import os
import tempfile

os.environ.setdefault("OBSARCHIVE_HOME", tempfile.mkdtemp(prefix="obsarchive-test-"))
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from obsarchive.server.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
# Static files are collected only by `obsarchive serve`; don't let WhiteNoise warn that the
# throw-away STATIC_ROOT does not exist.
WHITENOISE_AUTOREFRESH = True
