"""A read of encrypted data audited the way selectors do it, for the fail-closed tests."""

from django.db import transaction
from django.http import HttpResponse
from django.urls import include, path

import audit
from tests.crypto_models import SecretNote


def read_note(request, pk):
    with transaction.atomic():
        note = SecretNote.objects.get(pk=pk)
        audit.record(action="view", object_type="sspf.SecretNote", object_id=pk)
    return HttpResponse(note.body)


def write_note(request):
    with transaction.atomic():
        note = SecretNote.objects.create(body=request.POST["body"])
        audit.record(action="create", object_type="sspf.SecretNote", object_id=note.pk)
    return HttpResponse(status=201)


urlpatterns = [
    path("test-note/<int:pk>/", read_note),
    path("test-note/", write_note),
    path("", include("sspf.urls")),
]
