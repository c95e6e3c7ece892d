"""List endpoints: Stripe's cursor pagination (`limit`, `starting_after`, `ending_before`)
and the `created` range filter."""

from collections.abc import Callable

from . import errors
from .formdata import Params

PAGINATION_PARAMS = ("limit", "starting_after", "ending_before", "created")


def paginate(objects: list[dict], params: Params, url: str, kind: str) -> dict:
    """One page of `objects` (newest first)."""
    limit = params.integer("limit", default=10)
    if not 1 <= limit <= 100:
        raise errors.invalid("Invalid limit: must be between 1 and 100", "limit", "parameter_invalid_integer")
    starting_after = params.text("starting_after")
    ending_before = params.text("ending_before")
    if starting_after and ending_before:
        raise errors.invalid("You may only specify one of these parameters: ending_before, starting_after.")

    ids = [obj["id"] for obj in objects]
    if starting_after:
        if starting_after not in ids:
            raise errors.no_such(kind, starting_after, "starting_after")
        following = objects[ids.index(starting_after) + 1 :]
        page, has_more = following[:limit], len(following) > limit
    elif ending_before:
        if ending_before not in ids:
            raise errors.no_such(kind, ending_before, "ending_before")
        preceding = objects[: ids.index(ending_before)]
        page, has_more = preceding[-limit:], len(preceding) > limit
    else:
        page, has_more = objects[:limit], len(objects) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def created_filter(params: Params) -> Callable[[dict], bool]:
    """`created=<ts>` or `created[gt|gte|lt|lte]=<ts>`."""
    exact = params.raw("created")
    if exact is None:
        return lambda obj: True
    if not isinstance(exact, dict):
        moment = params.integer("created")
        return lambda obj: obj["created"] == moment
    bounds = params.nested("created")
    bounds.reject_unknown("gt", "gte", "lt", "lte")
    gt, gte, lt, lte = (bounds.integer(name) for name in ("gt", "gte", "lt", "lte"))
    return lambda obj: (
        (gt is None or obj["created"] > gt)
        and (gte is None or obj["created"] >= gte)
        and (lt is None or obj["created"] < lt)
        and (lte is None or obj["created"] <= lte)
    )


def list_endpoint(ctx, kind: str, url: str, *, filters=(), where: Callable[[dict], bool] | None = None) -> dict:
    """The usual list endpoint: `filters` are the extra params it accepts, `where` applies them."""
    ctx.params.reject_unknown(*PAGINATION_PARAMS, *filters)
    created = created_filter(ctx.params)
    objects = ctx.store.all(kind, lambda obj: created(obj) and (where is None or where(obj)))
    return paginate(objects, ctx.params, url, kind)
