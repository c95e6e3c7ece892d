"""API shapes of the accounts endpoints (input and output serializers)."""

from rest_framework import serializers

from accounts.models import SignupVia, SystemRole, UserEmail
from core.api import ErrorSerializer  # noqa: F401  (re-exported: the one error shape)


class MeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    avatar_url = serializers.CharField(help_text="Absolute URL, or a path on this site for an uploaded image.")
    email = serializers.CharField(help_text="The primary address.")
    email_verified = serializers.BooleanField(help_text="Whether the account holds at least one verified address.")
    has_password = serializers.BooleanField()
    role = serializers.ChoiceField(choices=SystemRole.choices)
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class MeUpdateSerializer(serializers.Serializer):
    username = serializers.CharField(required=False, max_length=150)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    avatar_url = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class UserEmailSerializer(serializers.ModelSerializer):
    via = serializers.ChoiceField(choices=SignupVia.choices)

    class Meta:
        model = UserEmail
        fields = ["id", "email", "is_primary", "verified", "via", "created_at"]


class EmailAddSerializer(serializers.Serializer):
    email = serializers.EmailField()


class EmailPreferencesSerializer(serializers.Serializer):
    """Every email type, true = subscribed. PUT must send all of them; PATCH any."""

    marketing = serializers.BooleanField()
    product_updates = serializers.BooleanField()
    payment_receipts = serializers.BooleanField()
