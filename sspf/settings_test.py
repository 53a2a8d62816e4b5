"""Settings for the test suite: fixed test keys, fast hashing, PostgreSQL when
``DATABASE_URL`` is set and SQLite otherwise."""

import base64
import os

os.environ["SSPF_ENV"] = "development"
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-any-real-use-0123456789")
os.environ.setdefault(
    "SSPF_FIELD_KEYS",
    f"test1:{base64.b64encode(b'test-field-key-of-32-bytes-long!').decode()}",
)
os.environ.setdefault(
    "SSPF_INDEX_KEY", base64.b64encode(b"test-index-key-of-32-bytes-long!").decode()
)

from sspf.settings import *  # noqa: F403

# Argon2 is the production hasher (tests/test_login.py checks it); the suite creates
# many accounts and uses a fast hasher for them.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
