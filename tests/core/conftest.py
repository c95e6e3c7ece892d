import pytest
from axes.models import AccessAttempt

from billing.models import EventProblem, RefundReversal
from tests import factories


@pytest.fixture
def one_of_everything():
    """A row of every Keel model (and of axes' attempts), for the tests that walk the admin."""
    tenant = factories.TenantFactory()
    factories.TenantMemberFactory(tenant=tenant)
    factories.TenantInvitationFactory(tenant=tenant)
    factories.TenantSlugFactory(tenant=tenant)
    factories.TenantMemberCreditLimitFactory(tenant=tenant)
    factories.UserProviderCustomerFactory(user=tenant.owner)
    factories.UserEmailPreferenceFactory(user=tenant.owner)
    grant = factories.CreditFactory(tenant=tenant, raw_data={"id": "cs_1"})
    factories.CreditTransactionFactory(credit=grant)
    RefundReversal.objects.create(provider_refund_id="re_example", credit=grant, credits=5, amount=100)
    EventProblem.objects.create(event_id="evt_example", event_type="invoice.paid", problem="an example")
    factories.CreditOverdraftFactory(tenant=tenant)
    factories.ApiKeyFactory(tenant=tenant)
    factories.IdempotencyKeyFactory(tenant=tenant)
    factories.SubscriptionFactory(tenant=tenant, raw_data={"id": "sub_1", "items": {"data": []}})
    factories.InvoiceFactory(tenant=tenant)
    factories.LifetimeFactory(tenant=tenant)
    factories.PriceFactory()
    AccessAttempt.objects.create(
        username="someone", ip_address="10.0.0.1", user_agent="", http_accept="", path_info="/", failures_since_start=1
    )
