"""Settings for the test suite: fixed test keys, fast hashing, PostgreSQL when
``DATABASE_URL`` is set and SQLite otherwise."""

import base64
import os
import tempfile

os.environ["SSPF_ENV"] = "development"
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-any-real-use-0123456789")
os.environ.setdefault(
    "SSPF_FIELD_KEYS",
    f"test1:{base64.b64encode(b'test-field-key-of-32-bytes-long!').decode()}",
)
os.environ.setdefault(
    "SSPF_INDEX_KEY", base64.b64encode(b"test-index-key-of-32-bytes-long!").decode()
)
os.environ.setdefault(
    "SSPF_AUDIT_KEY", base64.b64encode(b"test-audit-key-of-32-bytes-long!").decode()
)
os.environ.setdefault(
    "SSPF_AUDIT_SIGNING_KEY", base64.b64encode(b"test-signing-key-of-32-bytes-ok!").decode()
)
# Checkpoints of a test run go to a folder of their own; tests that read them use tmp_path.
os.environ.setdefault("SSPF_AUDIT_CHECKPOINT_DIR", tempfile.mkdtemp(prefix="sspf-checkpoints-"))
# On PostgreSQL the suite can act as the restricted application role, which
# tests/conftest.py grants once the test database is migrated (SSPF_TEST_DB_APP_ROLE).
os.environ.pop("SSPF_DATABASE_APP_ROLE", None)

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
