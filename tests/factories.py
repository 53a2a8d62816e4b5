import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf.models import Municipality, Organisation, User
from sspf.roles import Role
from sspf.services import staff_account_save

PASSWORD = "correct horse battery staple"


class MunicipalityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Municipality
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Kommun {n}")


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("municipality", "name")

    municipality = factory.SubFactory(MunicipalityFactory)
    name = factory.Sequence(lambda n: f"Organisation {n}")
    kind = Organisation.Kind.SCHOOL


def make_staff(username, *, role=Role.COORDINATOR, organisation=None, totp=True, **kwargs):
    """A staff account with a password and, unless told otherwise, a confirmed TOTP device."""
    if organisation is None and role != Role.ADMINISTRATOR:
        organisation = OrganisationFactory(kind=Organisation.Kind.COORDINATION)
    user = staff_account_save(
        username=username, role=role, organisation=organisation, password=PASSWORD, **kwargs
    )
    if totp:
        TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def current_code(user: User) -> str:
    from django_otp.oath import totp

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
