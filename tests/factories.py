"""factory_boy factories for the models tests create often."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.models import Membership, Organization

PASSWORD = "correct horse battery staple"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"label-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)


def member(organization: Organization, username: str, role: str):  # type: ignore[no-untyped-def]
    user = UserFactory(username=username)
    user.save()
    Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return user
