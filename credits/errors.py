"""Credits' domain errors: stable codes the API and pages show as they are."""

from core.errors import ApplicationError, Conflict, NotFound, ValidationFailed

__all__ = [
    "ApplicationError",
    "IdempotencyConflict",
    "InsufficientCredits",
    "InvalidAmount",
    "MemberCreditLimitExceeded",
    "NotAMember",
]


class InsufficientCredits(ApplicationError):
    code = "insufficient_credits"
    status = 402
    default_detail = "Not enough credits."


class MemberCreditLimitExceeded(ApplicationError):
    code = "member_credit_limit_exceeded"
    status = 403
    default_detail = "This would exceed your credit limit in this organization."


class NotAMember(NotFound):
    """The membership ended (removed, left) between authentication and consumption."""

    code = "not_a_member"
    default_detail = "You are not a member of this organization."


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_detail = "This Idempotency-Key was already used with a different request."


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"
    default_detail = "The amount must be a positive whole number."
