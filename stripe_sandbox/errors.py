"""Stripe's error responses: `{"error": {"type", "code", "message", "param", ...}}` plus an HTTP status."""

DOCS_URL = "https://stripe.com/docs/error-codes"


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra,
    ):
        super().__init__(message)
        self.status = status
        self.body = {"type": type, "message": message}
        if code:
            self.body["code"] = code
            self.body["doc_url"] = f"{DOCS_URL}/{code.replace('_', '-')}"
        if param:
            self.body["param"] = param
        self.body.update(extra)

    def response_body(self) -> dict:
        return {"error": self.body}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown_param(param: str) -> StripeError:
    return StripeError(400, f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def no_such(kind: str, object_id: str, param: str = "id", status: int = 404) -> StripeError:
    return StripeError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def card_declined(**extra) -> StripeError:
    return StripeError(
        402,
        "Your card was declined.",
        type="card_error",
        code="card_declined",
        decline_code="generic_decline",
        **extra,
    )
