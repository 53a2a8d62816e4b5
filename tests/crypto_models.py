"""Models used only by the tests (crypto, case items); their tables are created by
tests/conftest.py."""


from django.db import models

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
        # The same fields as the base, without constraints in the database: a table the
        # migrations do not know must not hold up the flush of the tables it refers to.
        case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+",
                                 db_constraint=False)
        author = models.ForeignKey("sspf.User", on_delete=models.PROTECT, related_name="+",
                                   db_constraint=False)
        source_org = models.ForeignKey("sspf.Organisation", on_delete=models.PROTECT,
                                       related_name="+", db_constraint=False)
        statutory_recipient = models.ForeignKey(
            "sspf.Organisation", on_delete=models.PROTECT, related_name="+", null=True,
            blank=True, db_constraint=False)

        class Meta:
            app_label = "cases"
            db_table = "test_probe_item"
            managed = False
            constraints = [CaseItem.recipient_needs_basis("probe_item_recipient_needs_basis")]

        def __str__(self) -> str:
            return f"ProbeItem {self.pk}"

    return ProbeItem


ProbeItem = _case_item()
