"""A model used only by the crypto tests; its table is created by tests/conftest.py."""


from sspf.crypto import EncryptedCharField, EncryptedModel, EncryptedTextField


class SecretNote(EncryptedModel):
    title = EncryptedCharField(max_length=50, blank=True)
    body = EncryptedTextField(null=True, blank=True)
    other = EncryptedTextField(null=True, blank=True)

    class Meta:
        app_label = "sspf"
        db_table = "test_secret_note"
        managed = False

    def __str__(self) -> str:
        return f"SecretNote {self.pk}"
