"""The Celery app. Broker from CELERY_BROKER_URL; the embedded default is kombu's
SQLAlchemy transport on a SQLite file in var/, which needs no server."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sspf.settings")

app = Celery("sspf")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
