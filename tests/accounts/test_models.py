import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from tests.factories import (
    UserEmailFactory,
    UserEmailPreferenceFactory,
    UserFactory,
    UserProviderCustomerFactory,
)

pytestmark = pytest.mark.django_db


def refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_username_is_unique_case_insensitively():
    UserFactory(username="Ada")
    refused(UserFactory, username="ada", email__skip=True)


def test_role_and_status_are_enumerations():
    refused(UserFactory, role="admin", email__skip=True)
    refused(UserFactory, status="banned", email__skip=True)


def test_same_email_twice_on_one_user_is_refused():
    user = UserFactory(email__skip=True)
    UserEmailFactory(user=user, email="a@example.com", verified=False)
    refused(UserEmailFactory, user=user, email="a@example.com", verified=False)


def test_only_one_primary_email_per_user_but_many_secondary():
    user = UserFactory()  # has a primary
    UserEmailFactory(user=user, is_primary=False)
    UserEmailFactory(user=user, is_primary=False)
    refused(UserEmailFactory, user=user, is_primary=True)
    assert user.emails.count() == 3


def test_an_address_is_verified_by_one_account_only():
    UserEmailFactory(email="shared@example.com", verified=True)
    # Unverified claims by other accounts are allowed (sign-up in progress) ...
    UserEmailFactory(email="shared@example.com", verified=False)
    # ... a second verified one is not.
    refused(UserEmailFactory, email="shared@example.com", verified=True)


def test_emails_are_stored_lowercase():
    refused(UserEmailFactory, email="Mixed@Example.com")


def test_one_provider_customer_per_user_and_provider():
    customer = UserProviderCustomerFactory()
    refused(UserProviderCustomerFactory, user=customer.user, provider="stripe")
    refused(UserProviderCustomerFactory, customer_id=customer.customer_id)


def test_one_preference_row_per_email_type():
    pref = UserEmailPreferenceFactory(email_type="marketing")
    refused(UserEmailPreferenceFactory, user=pref.user, email_type="marketing")
    refused(UserEmailPreferenceFactory, email_type="spam")


def test_email_property_is_the_primary_address():
    user = UserFactory(email="primary@example.com")
    UserEmailFactory(user=user, email="other@example.com")
    assert user.email == "primary@example.com"


def test_disabled_and_deleted_users_are_not_active():
    assert UserFactory().is_active
    assert not UserFactory(status="disabled").is_active
    assert not UserFactory(deleted_at=1).is_active


def test_createsuperuser_makes_a_system_owner_with_argon2(django_user_model):
    from django.core.management import call_command

    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    user = User.objects.get(username="root")
    assert user.role == "owner"
    assert user.is_staff and user.is_superuser
    assert user.email == "root@example.com"
    user.set_password("a long enough password")
    assert user.password.startswith("argon2")


def test_createsuperuser_applies_the_sign_up_rules_and_creates_nothing_when_refused(monkeypatch):
    from django.core.management import CommandError, call_command

    from tests.factories import UserEmailFactory

    UserEmailFactory(email="taken@example.com", verified=True)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "short")
    with pytest.raises(CommandError, match="at least 12 characters"):
        call_command("createsuperuser", interactive=False, username="root", email="root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long enough operator password")
    with pytest.raises(CommandError, match="already in use"):
        call_command("createsuperuser", interactive=False, username="root", email="Taken@example.com")
    assert not User.objects.filter(username="root").exists()

    call_command("createsuperuser", interactive=False, username="root", email="root@example.com", verbosity=0)
    assert User.objects.get(username="root").check_password("a long enough operator password")
