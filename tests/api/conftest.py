"""The Stripe sandbox and the example catalogue (tests/billing), for the billing operations."""

from stripe_sandbox import testing
from tests.billing import conftest as billing_fixtures

stripe_sandbox_server = testing.stripe_sandbox_server
stripe_sandbox = testing.stripe_sandbox
catalogue = billing_fixtures.catalogue
