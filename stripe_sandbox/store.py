"""The sandbox's state: every object by id, in creation order, behind one lock, and the
events each state change produces."""

import copy
import itertools
import json
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import errors
from .objects import new_account, new_event

_ID_ALPHABET = string.ascii_letters + string.digits
# Stripe's ids are prefix + random; some prefixes are shorter by habit.
_ID_LENGTHS = {"cus": 14, "prod": 14, "si": 14, "cs_test": 58}

NO_REQUEST = {"id": None, "idempotency_key": None}

DAY = 24 * 60 * 60


@dataclass
class BillingSettings:
    """The account's Billing settings that decide what the clock does (docs/stripe-sandbox.md)."""

    # "Upcoming renewal events": invoice.upcoming this many days before a renewal.
    upcoming_renewal_days: int = 7
    # A custom retry schedule: days after the previous attempt, one entry per retry.
    retry_days: tuple[int, ...] = (3, 5, 7)
    # After the last retry fails: the subscription becomes canceled, unpaid or stays past_due,
    subscription_after_retries: str = "canceled"
    # and the invoice stays open (past due) or is marked uncollectible.
    invoice_after_retries: str = "past_due"

    SUBSCRIPTION_OUTCOMES = ("canceled", "unpaid", "past_due")
    INVOICE_OUTCOMES = ("past_due", "uncollectible")


class Store:
    def __init__(self, *, account_id: str, api_version: str):
        self.lock = threading.RLock()
        self.account_id = account_id
        self.api_version = api_version
        # Called with (event, endpoint, payload) for every delivery an event needs.
        self.on_delivery: Callable[[dict, dict, str], None] | None = None
        # Called with every event created.
        self.on_event: Callable[[dict], None] | None = None
        self.portal_configuration_id = "bpc_" + account_id.removeprefix("acct_")
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[str, dict] = {}
            self._position: dict[str, int] = {}
            self._sequence = itertools.count()
            # Per checkout session: its line item ids and the subscription_data /
            # payment_intent_data it was created with, which Stripe never shows on the session.
            self.checkout_details: dict[str, dict] = {}
            self.webhook_secrets: dict[str, str] = {}
            # Per discount (di_...): the terms of its coupon when it was applied (a deleted or
            # changed coupon does not change a discount) and how many invoices it reduced.
            self.discount_details: dict[str, dict] = {}
            self.idempotent_responses: OrderedDict[tuple[str, str], dict] = OrderedDict()
            # What the clock already did once per object and period: (kind, object id, time).
            self.notices_sent: set[tuple[str, str, int]] = set()
            # Per proration invoice item: the invoice lines it credits (shown on its line).
            self.credited_items: dict[str, dict] = {}
            self.settings = BillingSettings()
            self._frozen_time: int | None = None
            self._dry = False
            new_account(self)

    def now(self) -> int:
        """The time the current change happens at: a test clock's frozen time while the clock
        (or a request about one of its customers) runs, else the wall clock."""
        return self._frozen_time if self._frozen_time is not None else int(time.time())

    @contextmanager
    def at(self, moment: int | None) -> Iterator[None]:
        """Run the block at `moment` (None: the wall clock)."""
        saved, self._frozen_time = self._frozen_time, moment
        try:
            yield
        finally:
            self._frozen_time = saved

    def new_id(self, prefix: str) -> str:
        length = _ID_LENGTHS.get(prefix, 24)
        while True:
            candidate = f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))
            if candidate not in self.objects:
                return candidate

    def add(self, obj: dict) -> dict:
        self.objects[obj["id"]] = obj
        self._position[obj["id"]] = next(self._sequence)
        return obj

    def find(self, object_id: str, kind: str | None = None) -> dict | None:
        obj = self.objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or (kind is not None and obj.get("object") != kind):
            return None
        return obj

    def get(self, object_id: str, kind: str, *, param: str = "id", status: int = 404) -> dict:
        obj = self.find(object_id, kind)
        if obj is None:
            raise errors.no_such(kind, object_id, param, status)
        return obj

    def all(self, kind: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
        """Objects of `kind`, newest first (Stripe's list order)."""
        found = [obj for obj in self.objects.values() if obj.get("object") == kind and (where is None or where(obj))]
        return sorted(found, key=lambda obj: self._position[obj["id"]], reverse=True)

    def remove(self, object_id: str) -> None:
        self.objects.pop(object_id, None)
        self._position.pop(object_id, None)

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Work on a copy of the state that is thrown away after the block, and emit nothing:
        a preview is what would happen, computed by doing it. Code in the block must fetch
        objects by id (references from before point at the real state)."""
        saved = (self.objects, self._position, self.notices_sent, self.credited_items)
        self.objects, self._position, self.notices_sent, self.credited_items = copy.deepcopy(saved)
        self._dry = True
        try:
            yield
        finally:
            self.objects, self._position, self.notices_sent, self.credited_items = saved
            self._dry = False

    def emit(self, event_type: str, obj: dict, request: dict | None, previous: dict | None = None) -> dict:
        endpoints = [
            endpoint
            for endpoint in self.all("webhook_endpoint")
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"])
        ]
        event = new_event(self, event_type, obj, request or NO_REQUEST, previous, len(endpoints))
        if self._dry:
            return event
        self.add(event)
        if self.on_event:
            self.on_event(event)
        if self.on_delivery:
            for endpoint in reversed(endpoints):  # oldest endpoint first
                payload = json.dumps(dict(event, api_version=endpoint["api_version"] or event["api_version"]), indent=2)
                self.on_delivery(event, endpoint, payload)
        return event

    @contextmanager
    def updating(self, obj: dict, event_type: str, request: dict | None) -> Iterator[dict]:
        """Emit `event_type` with Stripe's `previous_attributes` if the block changed `obj`."""
        before = copy.deepcopy(obj)
        yield obj
        previous = previous_attributes(before, obj)
        if previous:
            self.emit(event_type, obj, request, previous)

    def webhook_delivered(self, event_id: str) -> None:
        with self.lock:
            event = self.objects.get(event_id)
            if event is not None and event["pending_webhooks"] > 0:
                event["pending_webhooks"] -= 1


def previous_attributes(before: dict, after: dict) -> dict:
    """The old values of what changed; nested hashes (metadata, ...) show only their changed keys."""
    previous = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and old.get("object") != "list":
            previous[key] = previous_attributes(old, new)
        else:
            previous[key] = old
    return previous
