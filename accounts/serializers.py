"""API shapes of the accounts endpoints (input and output serializers)."""

from rest_framework import serializers

from accounts.models import SignupVia, SystemRole, UserEmail
from accounts.services.users import USERNAME_RE
from core.api import (
    OPTIONAL_HTTP_URL_PATTERN,
    ErrorSerializer,  # noqa: F401  (re-exported: the one error shape)
    InputSerializer,
    documented,
)

# A username as `username_clean` takes it (trimmed).
USERNAME_INPUT_PATTERN = rf"^\s*{USERNAME_RE.pattern[1:-1]}\s*$"


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


class MeUpdateSerializer(InputSerializer):
    username = documented(serializers.CharField, {"pattern": USERNAME_INPUT_PATTERN, "maxLength": 150}, required=False)
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    avatar_url = documented(
        serializers.CharField,
        {
            "pattern": OPTIONAL_HTTP_URL_PATTERN,
            "maxLength": 2000,
            "description": "An http(s) URL of an image, or blank for none.",
        },
        required=False,
        allow_blank=True,
        max_length=2000,
    )


class UserEmailSerializer(serializers.ModelSerializer):
    via = serializers.ChoiceField(choices=SignupVia.choices)

    class Meta:
        model = UserEmail
        fields = ["id", "email", "is_primary", "verified", "via", "created_at"]


class EmailAddSerializer(InputSerializer):
    email = serializers.EmailField()


class EmailPreferencesSerializer(InputSerializer):
    """Every email type, true = subscribed. PUT must send all of them; PATCH any."""

    marketing = serializers.BooleanField()
    product_updates = serializers.BooleanField()
    payment_receipts = serializers.BooleanField()
