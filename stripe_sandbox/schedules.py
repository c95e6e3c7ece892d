"""Subscription schedules, the part a plan change at the period's end needs: a schedule
made `from_subscription`, its phases replaced by `update`, each phase's items taking over
at its start (the renewal that crosses it bills the new items), and at the last phase's
end the schedule released (or the subscription canceled, `end_behavior=cancel`).
`release` and `cancel` work at any time."""

import copy

from . import errors, flows
from .formdata import merge_metadata
from .listing import list_endpoint
from .objects import add_interval, create_object, new_subscription_item, plan_from_price

ACTIVE = ("not_started", "active")


def _phase_item(price: dict, quantity: int) -> dict:
    return {
        "billing_thresholds": None,
        "discounts": [],
        "metadata": {},
        "plan": price["id"],
        "price": price["id"],
        "quantity": quantity,
        "tax_rates": [],
    }


def _phase(sub: dict, items: list[dict], start: int, end: int, proration_behavior: str) -> dict:
    return {
        "add_invoice_items": [],
        "application_fee_percent": None,
        "billing_cycle_anchor": None,
        "billing_thresholds": None,
        "collection_method": None,
        "currency": sub["currency"],
        "default_payment_method": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "end_date": end,
        "invoice_settings": None,
        "items": items,
        "metadata": {},
        "on_behalf_of": None,
        "proration_behavior": proration_behavior,
        "start_date": start,
        "transfer_data": None,
        "trial_end": None,
    }


def create_schedule(ctx) -> dict:
    params = ctx.params
    params.reject_unknown("from_subscription", "metadata", "end_behavior")
    sub_id = params.text("from_subscription")
    if sub_id is None:
        raise errors.invalid(
            "The sandbox creates schedules from an existing subscription only: pass from_subscription.",
            "from_subscription",
            "parameter_missing",
        )
    store = ctx.store
    sub = store.get(sub_id, "subscription", param="from_subscription", status=400)
    if sub["status"] in flows.ENDED_STATUSES:
        raise errors.invalid(f"Subscription {sub_id} is {sub['status']}.", "from_subscription")
    if sub["schedule"]:
        raise errors.invalid(
            f"You cannot migrate a subscription that is already attached to a schedule: `{sub['schedule']}`.",
            "from_subscription",
        )
    start, end = flows.current_period(sub)
    items = [_phase_item(item["price"], item["quantity"]) for item in sub["items"]["data"]]
    with store.at(flows.customer_time(store, sub["customer"])):
        schedule = create_object(
            store,
            "subscription_schedule",
            "sub_sched",
            application=None,
            billing_mode={"flexible": None, "type": "classic"},
            canceled_at=None,
            completed_at=None,
            current_phase={"end_date": end, "start_date": start},
            customer=sub["customer"],
            customer_account=None,
            end_behavior=params.text("end_behavior", choices=("cancel", "release"), default="release"),
            metadata=params.metadata() or {},
            phases=[_phase(sub, items, start, end, "create_prorations")],
            released_at=None,
            released_subscription=None,
            status="active",
            subscription=sub["id"],
            test_clock=sub["test_clock"],
        )
    store.emit("subscription_schedule.created", schedule, ctx.request)
    with store.updating(sub, "customer.subscription.updated", ctx.request):
        sub["schedule"] = schedule["id"]
    return schedule


def retrieve_schedule(ctx, schedule_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(schedule_id, "subscription_schedule")


def list_schedules(ctx) -> dict:
    customer = ctx.params.text("customer")
    return list_endpoint(
        ctx,
        "subscription_schedule",
        "/v1/subscription_schedules",
        filters=("customer",),
        where=lambda s: customer is None or s["customer"] == customer,
    )


def update_schedule(ctx, schedule_id: str) -> dict:
    """Replaces the phases. The first must start where the current one did; each later
    phase starts where the one before ends; a phase ends at `end_date`, after `duration`,
    or (the last) after one billing interval of its first price."""
    params, store = ctx.params, ctx.store
    params.reject_unknown("phases", "end_behavior", "metadata", "proration_behavior")
    schedule = store.get(schedule_id, "subscription_schedule")
    if schedule["status"] not in ACTIVE:
        raise errors.invalid(f"You cannot update a subscription schedule that is {schedule['status']}.")
    sub = store.get(schedule["subscription"], "subscription")
    with store.updating(schedule, "subscription_schedule.updated", ctx.request):
        if "phases" in params:
            schedule["phases"] = _parse_phases(ctx, sub, schedule, params.array("phases", required=True))
        if "end_behavior" in params:
            schedule["end_behavior"] = params.text("end_behavior", choices=("cancel", "release"))
        schedule["metadata"] = merge_metadata(schedule["metadata"], params.metadata())
    return schedule


def _parse_phases(ctx, sub: dict, schedule: dict, phases: list) -> list[dict]:
    store = ctx.store
    start = schedule["phases"][0]["start_date"]
    parsed = []
    for index, phase in enumerate(phases):
        name = f"phases[{index}]"
        if not hasattr(phase, "reject_unknown"):
            raise errors.invalid("Invalid array: phases must be an array of hashes", "phases")
        phase.reject_unknown("items", "start_date", "end_date", "duration", "proration_behavior", "metadata")
        given_start = phase.integer("start_date")
        if index == 0 and given_start is not None and given_start != start:
            raise errors.invalid("You can not modify the start date of the current phase.", f"{name}[start_date]")
        if index > 0 and given_start is not None and given_start != start:
            raise errors.invalid(
                "Phases must be contiguous: a phase starts where the one before ends.", f"{name}[start_date]"
            )
        items = []
        for item_index, item in enumerate(phase.array("items", required=True)):
            item.reject_unknown("price", "quantity", "metadata")
            price = store.get(
                item.text("price", required=True), "price", param=f"{name}[items][{item_index}][price]", status=400
            )
            if price["type"] != "recurring" or price["currency"] != sub["currency"]:
                raise errors.invalid(
                    "A phase's prices must be recurring and in the subscription's currency.",
                    f"{name}[items][{item_index}][price]",
                )
            items.append(_phase_item(price, item.integer("quantity", default=1, minimum=1)))
        if not items:
            raise errors.invalid("A phase needs at least one item.", f"{name}[items]")
        end = phase.integer("end_date")
        duration = phase.nested("duration")
        if end is None:
            first = store.get(items[0]["price"], "price")["recurring"]
            interval, count = first["interval"], first["interval_count"]
            if duration is not None:
                duration.reject_unknown("interval", "interval_count")
                interval = duration.text("interval", required=True, choices=("day", "week", "month", "year"))
                count = duration.integer("interval_count", default=1, minimum=1)
            elif index < len(phases) - 1:
                raise errors.invalid("Every phase but the last needs an end_date or a duration.", f"{name}[end_date]")
            end = add_interval(start, interval, count)
        if end <= start:
            raise errors.invalid("A phase must end after it starts.", f"{name}[end_date]")
        parsed.append(
            _phase(
                sub,
                items,
                start,
                end,
                phase.text(
                    "proration_behavior",
                    choices=("always_invoice", "create_prorations", "none"),
                    default="create_prorations",
                ),
            )
        )
        start = end
    return parsed


def release_schedule(ctx, schedule_id: str) -> dict:
    ctx.params.reject_unknown("preserve_cancel_date")
    schedule = ctx.store.get(schedule_id, "subscription_schedule")
    if schedule["status"] not in ACTIVE:
        raise errors.invalid(f"You cannot release a subscription schedule that is currently {schedule['status']}.")
    _release(ctx, schedule)
    return schedule


def _release(ctx, schedule: dict) -> None:
    store = ctx.store
    sub = store.get(schedule["subscription"], "subscription")
    schedule.update(
        status="released",
        released_at=store.now(),
        released_subscription=sub["id"],
        subscription=None,
        current_phase=None,
    )
    store.emit("subscription_schedule.released", schedule, ctx.request)
    with store.updating(sub, "customer.subscription.updated", ctx.request):
        sub["schedule"] = None


def cancel_schedule(ctx, schedule_id: str) -> dict:
    ctx.params.reject_unknown("invoice_now", "prorate")
    store = ctx.store
    schedule = store.get(schedule_id, "subscription_schedule")
    if schedule["status"] not in ACTIVE:
        raise errors.invalid(f"You cannot cancel a subscription schedule that is currently {schedule['status']}.")
    sub = store.get(schedule["subscription"], "subscription")
    schedule.update(status="canceled", canceled_at=store.now(), current_phase=None)
    store.emit("subscription_schedule.canceled", schedule, ctx.request)
    flows.cancel_subscription(ctx, sub, at_period_end=False)
    return schedule


def schedule_ends(ctx, sub: dict, boundary: int) -> bool:
    """At a renewal: if the schedule's last phase ends at `boundary`, release it or cancel
    the subscription. Returns whether the subscription ended."""
    schedule = ctx.store.find(sub["schedule"], "subscription_schedule") if sub["schedule"] else None
    if schedule is None or schedule["status"] not in ACTIVE or boundary < schedule["phases"][-1]["end_date"]:
        return False
    if schedule["end_behavior"] == "release":
        _release(ctx, schedule)
        return False
    schedule.update(status="completed", completed_at=boundary, current_phase=None)
    ctx.store.emit("subscription_schedule.completed", schedule, ctx.request)
    flows.end_subscription(ctx, sub, ended_at=boundary)
    return True


def enter_phase(ctx, sub: dict, boundary: int) -> None:
    """At a renewal: the phase starting at `boundary` sets the subscription's items
    (items whose price stays keep their id). Call inside the renewal's update."""
    store = ctx.store
    schedule = store.find(sub["schedule"], "subscription_schedule") if sub["schedule"] else None
    if schedule is None or schedule["status"] not in ACTIVE:
        return
    phase = next((p for p in schedule["phases"] if p["start_date"] == boundary), None)
    if phase is None:
        return
    current = {item["price"]["id"]: item for item in sub["items"]["data"]}
    items = []
    for phase_item in phase["items"]:
        price = store.get(phase_item["price"], "price")
        item = current.get(price["id"])
        if item is None:
            item = new_subscription_item(
                store, price=price, quantity=phase_item["quantity"], subscription=sub["id"], period=(boundary, boundary)
            )
        item.update(price=copy.deepcopy(price), plan=plan_from_price(price), quantity=phase_item["quantity"])
        items.append(item)
    sub["items"]["data"] = items
    with store.updating(schedule, "subscription_schedule.updated", ctx.request):
        schedule["current_phase"] = {"end_date": phase["end_date"], "start_date": phase["start_date"]}


ROUTES = [
    ("POST", "/v1/subscription_schedules", create_schedule),
    ("GET", "/v1/subscription_schedules", list_schedules),
    ("GET", "/v1/subscription_schedules/{schedule_id}", retrieve_schedule),
    ("POST", "/v1/subscription_schedules/{schedule_id}", update_schedule),
    ("POST", "/v1/subscription_schedules/{schedule_id}/release", release_schedule),
    ("POST", "/v1/subscription_schedules/{schedule_id}/cancel", cancel_schedule),
]
