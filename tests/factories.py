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


class World:
    """A municipality with one organisation of each partner kind and one case worker in
    each, and a coordinator of a second municipality; built through the services."""

    def __init__(self, name="Testkommun"):
        from sspf.models import Organisation as Org

        self.municipality = MunicipalityFactory(name=name, areas=["Norr", "Söder"])
        kinds = {"coordination": (Org.Kind.COORDINATION, Role.COORDINATOR),
                 "school": (Org.Kind.SCHOOL, Role.SCHOOL_STAFF),
                 "social": (Org.Kind.SOCIAL_SERVICES, Role.SOCIAL_WORKER),
                 "leisure": (Org.Kind.LEISURE, Role.LEISURE_STAFF),
                 "police": (Org.Kind.POLICE, Role.POLICE)}
        self.orgs = {}
        self.users = {}
        for key, (kind, role) in kinds.items():
            org = OrganisationFactory(municipality=self.municipality, kind=kind,
                                      name=f"{name} {key}")
            self.orgs[key] = org
            self.users[key] = make_staff(f"{name.lower()}-{key}", role=role, organisation=org)
        other = MunicipalityFactory(name=f"{name} grannkommun")
        self.users["elsewhere"] = make_staff(
            f"{name.lower()}-elsewhere", role=Role.COORDINATOR, totp=False,
            organisation=OrganisationFactory(municipality=other,
                                             kind=Org.Kind.COORDINATION))
        self.users["auditor"] = make_staff(f"{name.lower()}-auditor", role=Role.AUDITOR,
                                           organisation=self.orgs["coordination"], totp=False)

    def __getitem__(self, key):
        return self.users[key]

    @property
    def coordinator(self):
        return self.users["coordination"]


def open_case(world, *, personnummer, first_name="Test", last_name="Testsson", team=(),
              **kwargs):
    """A case led by the world's coordinator, with the named partners on its team."""
    from cases import services

    case = services.case_create(user=world.coordinator, personnummer=personnummer,
                                first_name=first_name, last_name=last_name, **kwargs)
    for key in team:
        services.member_add(user=world.coordinator, case_id=case.pk,
                            username=world[key].username)
    case.refresh_from_db()
    return case


def youth_number(years=14, days=30, sex="F"):
    """An identity number from Skatteverket's test series (cases/demo.py) for someone
    ``years`` years and ``days`` days old today."""
    from django.utils import timezone

    from cases import demo

    return demo.test_series_number(demo.born_before(timezone.localdate(), years, days), sex)


def add_guardian(world, case, *, years=45, sex="F", first_name="Förälder"):
    from cases import services

    return services.guardian_add(user=world.coordinator, case_id=case.pk,
                                 personnummer=youth_number(years, sex=sex),
                                 first_name=first_name, last_name="Testsson")


def consent_of_all(world, case, *, organisations, categories):
    """Grants by every giver the case needs now (the young person from the own-consent
    age, each custodian), all to the same scope; returns them."""
    from consent import rules, services
    from consent.enforcement import case_consent

    grants = []
    for giver in case_consent(case).required or []:
        grants.append(services.grant_record(
            user=world.coordinator, case_id=case.pk,
            giver_type="youth" if giver == rules.Giver.youth() else "guardian",
            guardian_id=None if giver == rules.Giver.youth() else giver.id,
            organisations=[world.orgs[key].pk for key in organisations],
            categories=list(categories), purpose="Samordnade insatser", form="written"))
    return grants
