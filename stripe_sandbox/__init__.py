"""A local, stateful imitation of the part of Stripe's API that Keel and dj-stripe use.

Development and test tool only; see docs/stripe-sandbox.md.
"""

from .sandbox import SandboxControlError, StripeSandbox
from .version import API_VERSION

__all__ = ["API_VERSION", "SandboxControlError", "StripeSandbox"]
