"""API shapes of the credits endpoints (input validation and output)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api import (
    ErrorSerializer,  # noqa: F401  (re-exported: the one error shape)
    InputSerializer,
)
from core.time import now_ms
from credits.models import MAX_CREDITS, Credit, CreditTransaction
from credits.services.consumption import MAX_DESCRIPTION_LENGTH
from organizations.models import UNLIMITED


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_CREDITS})
class CreditAmountField(serializers.Field):
    """A whole, positive number of credits: 5, or "5" from a form; not 5.5, "5.0", true or -1."""

    default_error_messages = {"invalid_amount": f"Amount must be a whole number of credits from 1 to {MAX_CREDITS}."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid_amount")
        if isinstance(data, str) and data.isascii() and data.isdigit():
            data = int(data)
        if not isinstance(data, int) or not 1 <= data <= MAX_CREDITS:
            self.fail("invalid_amount")
        return data

    def to_representation(self, value):
        return value


class ConsumeInputSerializer(InputSerializer):
    amount = CreditAmountField(help_text="Credits to consume, a positive whole number.")
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_DESCRIPTION_LENGTH, trim_whitespace=True
    )


class TransactionSerializer(serializers.ModelSerializer):
    credit = serializers.UUIDField(
        source="credit_id", allow_null=True, help_text="The grant touched (none for overdraft rows)."
    )
    user = serializers.UUIDField(source="user_id", help_text="The member the row is attributed to.")
    username = serializers.CharField(source="user.username")
    credits = serializers.IntegerField(help_text="Signed: additions positive, deductions negative.")
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")

    class Meta:
        model = CreditTransaction
        fields = ["id", "type", "credits", "credit", "user", "username", "description", "created_at"]


class GrantSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField(help_text="active, scheduled (not effective yet), expired or used.")

    class Meta:
        model = Credit
        fields = [
            "id",
            "mode",
            "total_credits",
            "remaining_credits",
            "priority",
            "effective_at",
            "expires_at",
            "created_at",
            "source_type",
            "plan_id",
            "state",
        ]

    def get_state(self, grant: Credit) -> str:
        at_ms = self.context.get("now") or now_ms()
        if grant.expires_at is not None and grant.expires_at <= at_ms:
            return "expired"
        if grant.remaining_credits == 0:
            return "used"
        if grant.effective_at > at_ms:
            return "scheduled"
        return "active"


class MemberUsageSerializer(serializers.Serializer):
    credit_limit = serializers.IntegerField(help_text="-1 is unlimited.")
    used_credits = serializers.IntegerField()


class CreditSummarySerializer(serializers.Serializer):
    balance = serializers.IntegerField(
        help_text="What can be spent now without overdraft: usable credits minus overdraft owed."
    )
    overdraft = serializers.IntegerField(
        help_text="Credits the organization owes; the next grant pays them back first."
    )
    grants = GrantSerializer(many=True, help_text="Usable grants, in the order consumption takes them.")
    member = serializers.SerializerMethodField()

    @extend_schema_field(MemberUsageSerializer)
    def get_member(self, summary) -> dict:
        row = summary.member_limit
        if row is None:
            return {"credit_limit": UNLIMITED, "used_credits": 0}
        return {"credit_limit": row.credit_limit, "used_credits": row.used_credits}


class ConsumeOutputSerializer(serializers.Serializer):
    consumed = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Balance right after this consumption.")
    overdraft = serializers.IntegerField(help_text="Overdraft owed right after this consumption.")
    transactions = TransactionSerializer(many=True, help_text="The ledger rows this consumption wrote.")
