"""Models used only by the tests (crypto, case items); their tables are created by
tests/conftest.py."""


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


def _case_item():
    from cases.models import CaseItem

    class ProbeItem(CaseItem):
        """A case item type that exists only in the tests: proof that a new type is gated
        by the policy and consent without a rule of its own."""

        note = EncryptedTextField()

        class Meta:
            app_label = "cases"
            db_table = "test_probe_item"
            managed = False
            constraints = [CaseItem.recipient_needs_basis("probe_item_recipient_needs_basis")]

        def __str__(self) -> str:
            return f"ProbeItem {self.pk}"

    return ProbeItem


ProbeItem = _case_item()
