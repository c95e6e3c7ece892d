"""The audit log's own guarantees: written in the change's transaction, by whoever acts, never
changed or deleted (docs/audit.md)."""

import pytest
from django.db import DatabaseError, transaction
from django.test import RequestFactory

from audit.context import HIJACK_HISTORY_KEY, acting_as, serving
from audit.models import ActorKind, AuditEvent
from audit.services import AuditOutsideTransaction, audit_record
from tests import factories

pytestmark = pytest.mark.django_db


def record_in(request=None, **kwargs):
    with transaction.atomic():
        if request is None:
            return audit_record(**kwargs)
        with serving(request):
            return audit_record(**kwargs)


@pytest.mark.django_db(transaction=True)
def test_a_row_outside_a_transaction_is_refused(tenant):
    # A transactional test: the ordinary ones run inside a transaction of their own.
    with pytest.raises(AuditOutsideTransaction):
        audit_record(action="tenant.renamed", tenant=tenant)
    assert not AuditEvent.objects.exists()


def test_a_row_rolls_back_with_the_change_it_records(tenant):
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="tenant.renamed", tenant=tenant, target=tenant)
        raise RuntimeError("the change failed")
    assert not AuditEvent.objects.exists()


def test_rows_can_be_neither_changed_nor_deleted(tenant):
    event = record_in(action="tenant.renamed", tenant=tenant, target=tenant, before={"name": "A"})
    with pytest.raises(DatabaseError, match="cannot be changed or deleted"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    with pytest.raises(DatabaseError, match="cannot be changed or deleted"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.action == "tenant.renamed"


def test_the_signed_in_user_of_the_request_is_the_actor_with_the_address(tenant, user):
    request = RequestFactory().post("/o/x/settings/", REMOTE_ADDR="203.0.113.9")
    request.user = user
    request.session = {}
    event = record_in(request, action="tenant.renamed", tenant=tenant, target=tenant)
    assert (event.actor_kind, event.actor_user_id, event.ip_address) == (ActorKind.USER, user.pk, "203.0.113.9")
    assert (event.target_type, event.target_id, event.target_label) == ("tenant", str(tenant.pk), tenant.name)


def test_an_api_key_is_the_actor_as_the_member_it_acts_for(tenant, user):
    key = factories.ApiKeyFactory(tenant=tenant, user=user, name="CI")
    request = RequestFactory().post("/api/v1/x/", REMOTE_ADDR="198.51.100.4")
    request.user, request.auth = user, key
    event = record_in(request, action="credits.consumed", tenant=tenant)
    assert (event.actor_kind, event.actor_user_id) == (ActorKind.API_KEY, user.pk)
    assert event.actor_label == f"CI ({key.prefix}…)"


def test_staff_impersonating_a_user_are_recorded_beside_the_user(tenant, user):
    staff = factories.UserFactory(role="owner")
    request = RequestFactory().post("/o/x/settings/")
    request.user = user
    request.session = {HIJACK_HISTORY_KEY: [str(staff.pk)]}
    event = record_in(request, action="tenant.renamed", tenant=tenant)
    assert (event.actor_user_id, str(event.impersonator_id)) == (user.pk, str(staff.pk))


def test_a_declared_actor_outside_a_request(tenant):
    with acting_as(kind=ActorKind.STRIPE, label="Stripe"):
        event = record_in(action="plan.changed", tenant=tenant)
    assert (event.actor_kind, event.actor_label, event.actor_user_id) == (ActorKind.STRIPE, "Stripe", None)
    assert record_in(action="plan.changed", tenant=tenant).actor_kind == ActorKind.SYSTEM
