"""`/v1/test_helpers/test_clocks`: Stripe's test clocks. A customer created with
`test_clock=` lives at the clock's frozen time, and so do its subscriptions and invoices;
advancing the clock performs, in time order, everything that falls due on the way
(lifecycle.py)."""

from . import errors, lifecycle
from .listing import list_endpoint
from .objects import deleted_object, new_test_clock

# Stripe refuses to advance a clock further than two intervals of its shortest
# subscription; the sandbox has no such limit, but refuses moving back in time.


def create_test_clock(ctx) -> dict:
    ctx.params.reject_unknown("frozen_time", "name")
    clock = new_test_clock(
        ctx.store, frozen_time=ctx.params.integer("frozen_time", required=True), name=ctx.params.text("name")
    )
    ctx.store.emit("test_helpers.test_clock.created", clock, ctx.request)
    return clock


def retrieve_test_clock(ctx, clock_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(clock_id, "test_helpers.test_clock")


def list_test_clocks(ctx) -> dict:
    return list_endpoint(ctx, "test_helpers.test_clock", "/v1/test_helpers/test_clocks")


def clock_subscriptions(store, clock_id: str) -> list[dict]:
    return store.all("subscription", lambda sub: sub["test_clock"] == clock_id)


def advance_test_clock(ctx, clock_id: str) -> dict:
    """Stripe advances in the background (status `advancing`, then `ready`); the sandbox does
    the work before it answers, so the answer is already `ready`."""
    ctx.params.reject_unknown("frozen_time")
    store = ctx.store
    clock = store.get(clock_id, "test_helpers.test_clock")
    target = ctx.params.integer("frozen_time", required=True)
    if target <= clock["frozen_time"]:
        raise errors.invalid(
            "The frozen time must be after the test clock's current frozen time.", "frozen_time", "parameter_invalid"
        )
    clock.update(status="advancing", status_details={"advancing": {"target_frozen_time": target}})
    store.emit("test_helpers.test_clock.advancing", clock, ctx.request)
    lifecycle.run_until(ctx, target, lambda: clock_subscriptions(store, clock_id))
    clock.update(frozen_time=target, status="ready", status_details={})
    store.emit("test_helpers.test_clock.ready", clock, ctx.request)
    return clock


def delete_test_clock(ctx, clock_id: str) -> dict:
    """Deleting a clock deletes its customers (and so ends their subscriptions)."""
    ctx.params.reject_unknown()
    store = ctx.store
    clock = store.get(clock_id, "test_helpers.test_clock")
    for customer in store.all("customer", lambda c: c.get("test_clock") == clock_id):
        store.objects[customer["id"]] = deleted_object(customer)
    store.objects[clock_id] = deleted_object(clock)
    store.emit("test_helpers.test_clock.deleted", clock, ctx.request)
    return store.objects[clock_id]


ROUTES = [
    ("POST", "/v1/test_helpers/test_clocks", create_test_clock),
    ("GET", "/v1/test_helpers/test_clocks", list_test_clocks),
    ("GET", "/v1/test_helpers/test_clocks/{clock_id}", retrieve_test_clock),
    ("DELETE", "/v1/test_helpers/test_clocks/{clock_id}", delete_test_clock),
    ("POST", "/v1/test_helpers/test_clocks/{clock_id}/advance", advance_test_clock),
]
