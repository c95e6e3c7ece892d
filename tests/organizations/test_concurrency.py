"""Races that only real row locks and real concurrent connections can show."""

import threading

import pytest
from django.db import connection

from core.errors import ApplicationError
from organizations import services
from organizations.models import MemberRole, TenantInvitation, TenantMember, TenantMemberCreditLimit
from tests import factories
from tests.organizations.conftest import join, membership, token_from_last_email

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls):
    """Run the calls at once, each in its own thread (and database connection); return results or errors."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except ApplicationError as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_an_invitation_is_accepted_once_however_many_clicks():
    owner = factories.UserFactory()
    org = services.tenant_create(owner=owner, name="Acme")
    services.invitation_create(
        tenant=org, actor=membership(org, owner), invited_by=owner, email="ivy@example.com", credit_limit=5
    )
    token = token_from_last_email()
    ivy = factories.UserFactory(email="ivy@example.com")

    results = race(*[lambda: services.invitation_accept(token=token, user=ivy)] * 4)

    accepted = [r for r in results if isinstance(r, TenantMember)]
    refused = [r.code for r in results if isinstance(r, ApplicationError)]
    assert len(accepted) == 1
    assert set(refused) <= {"invitation_used", "already_member"} and len(refused) == 3
    assert TenantMember.objects.filter(tenant=org, user=ivy).count() == 1
    assert TenantMemberCreditLimit.objects.get(tenant=org, user=ivy).credit_limit == 5
    assert TenantInvitation.objects.get(tenant=org).status == "accepted"


def test_two_owners_stepping_down_at_once_leave_one_owner():
    first = factories.UserFactory()
    org = services.tenant_create(owner=first, name="Acme")
    second = join(org, role=MemberRole.OWNER)
    first = membership(org, first)

    results = race(
        lambda: services.member_role_change(member=first, actor=first, role="member"),
        lambda: services.member_role_change(member=second, actor=second, role="member"),
    )

    assert TenantMember.objects.filter(tenant=org, role="owner").count() == 1
    assert [r.code for r in results if isinstance(r, ApplicationError)] == ["last_owner"]
