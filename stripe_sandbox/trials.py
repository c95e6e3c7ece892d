"""Trial parameters, as subscriptions and Checkout's `subscription_data` take them."""

from . import errors
from .formdata import Params
from .objects import DAY

TRIAL_PARAMS = ("trial_period_days", "trial_end", "trial_settings")
MISSING_PAYMENT_METHOD = ("cancel", "create_invoice", "pause")
MAX_TRIAL_DAYS = 730


def trial_request(params: Params) -> dict:
    """What `params` ask for: {"days": n} or {"end": timestamp or "now"} or {}, and the
    behaviour at the trial's end without a payment method."""
    request = {"missing_payment_method": "create_invoice"}
    days = params.integer("trial_period_days", minimum=1)
    end = params.text("trial_end")
    if days is not None and end is not None:
        raise errors.invalid("You may only specify one of these parameters: trial_end, trial_period_days.")
    if days is not None:
        if days > MAX_TRIAL_DAYS:
            raise errors.invalid(
                f"The trial period cannot be longer than {MAX_TRIAL_DAYS} days.", params.name("trial_period_days")
            )
        request["days"] = days
    elif end is not None:
        if end != "now" and not end.isdigit():
            raise errors.invalid(
                "Invalid timestamp: must be an integer Unix timestamp or 'now'.", params.name("trial_end")
            )
        request["end"] = end if end == "now" else int(end)
    settings = params.nested("trial_settings")
    if settings is not None:
        settings.reject_unknown("end_behavior")
        behavior = settings.nested("end_behavior", required=True)
        behavior.reject_unknown("missing_payment_method")
        request["missing_payment_method"] = behavior.text(
            "missing_payment_method", required=True, choices=MISSING_PAYMENT_METHOD
        )
    return request


def trial_end(request: dict, now: int, *, param: str) -> int | None:
    """The trial's end for a subscription starting `now`, or None for no trial."""
    if "days" in request:
        return now + request["days"] * DAY
    end = request.get("end")
    if end is None or end == "now":
        return None
    if end <= now:
        raise errors.invalid("Invalid timestamp: must be in the future", param)
    if end > now + MAX_TRIAL_DAYS * DAY:
        raise errors.invalid(f"The trial cannot end more than {MAX_TRIAL_DAYS} days from now.", param)
    return end
