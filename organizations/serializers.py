"""API shapes of the organizations endpoints (input and output serializers)."""

from rest_framework import serializers

from core.api import OPTIONAL_HTTP_URL_PATTERN, InputSerializer, documented
from organizations.models import UNLIMITED, InvitationStatus, MemberRole, Permission
from organizations.services.members import MAX_CREDIT_LIMIT
from organizations.services.tenants import RESERVED_SLUGS, SLUG_MAX, SLUG_MIN

# A slug as `tenant_slug_clean` takes it (trimmed, then lowercased).
SLUG_INPUT_PATTERN = rf"^\s*[A-Za-z0-9][A-Za-z0-9-]{{{SLUG_MIN - 2},{SLUG_MAX - 2}}}[A-Za-z0-9]\s*$"


class OrganizationSerializer(serializers.Serializer):
    """An organization as the requesting user sees it (rendered from their membership)."""

    id = serializers.UUIDField(source="tenant.id")
    name = serializers.CharField(source="tenant.name")
    slug = serializers.CharField(source="tenant.slug")
    logo_url = serializers.CharField(source="tenant.logo_url")
    is_default = serializers.BooleanField(source="tenant.is_default")
    created_at = serializers.IntegerField(source="tenant.created_at", help_text="Epoch milliseconds.")
    role = serializers.ChoiceField(choices=MemberRole.choices, help_text="Your role in it.")
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=Permission.choices))


class OrganizationInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=255)
    slug = documented(
        serializers.CharField,
        {
            "minLength": SLUG_MIN,
            "pattern": SLUG_INPUT_PATTERN,
            "not": {"enum": sorted(RESERVED_SLUGS)},
            "description": f"{SLUG_MIN} to {SLUG_MAX} letters, digits or hyphens (kept lowercase), starting and "
            "ending with a letter or digit, not a reserved word. Derived from the name when omitted.",
        },
        required=False,
    )
    logo_url = documented(
        serializers.CharField,
        {"pattern": OPTIONAL_HTTP_URL_PATTERN, "description": "An http(s) URL of an image, or blank for none."},
        required=False,
        allow_blank=True,
    )


class OrganizationDeleteSerializer(InputSerializer):
    confirm_name = serializers.CharField(help_text="The organization's name, exactly.")


class UserSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class MemberSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user = UserSummarySerializer()
    email = serializers.CharField(source="primary_email", allow_null=True)
    role = serializers.ChoiceField(choices=MemberRole.choices)
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=Permission.choices))
    credit_limit = serializers.IntegerField(
        allow_null=True, help_text="-1 is unlimited; null when you may not see other members' usage."
    )
    used_credits = serializers.IntegerField(allow_null=True)
    joined_at = serializers.IntegerField(source="created_at", help_text="Epoch milliseconds.")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("see_all_usage") and instance.pk != self.context.get("viewer_id"):
            data["credit_limit"] = data["used_credits"] = None
        return data


class MemberUpdateSerializer(InputSerializer):
    role = serializers.ChoiceField(choices=MemberRole.choices, required=False)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=Permission.choices), required=False, help_text="For the custom role."
    )
    credit_limit = serializers.IntegerField(
        min_value=UNLIMITED, max_value=MAX_CREDIT_LIMIT, required=False, help_text="-1 for unlimited."
    )
    reset_used_credits = serializers.BooleanField(required=False, default=False)


class InviterSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    username = serializers.CharField()


class InvitationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=MemberRole.choices)
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=Permission.choices))
    credit_limit = serializers.IntegerField()
    status = serializers.ChoiceField(choices=InvitationStatus.choices)
    invited_by = InviterSerializer()
    expires_at = serializers.IntegerField(help_text="Epoch milliseconds.")
    created_at = serializers.IntegerField(help_text="Epoch milliseconds.")


class InvitationInputSerializer(InputSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=MemberRole.choices, default=MemberRole.MEMBER)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=Permission.choices), required=False, default=list
    )
    credit_limit = serializers.IntegerField(min_value=UNLIMITED, max_value=MAX_CREDIT_LIMIT, default=UNLIMITED)


class TransferSerializer(InputSerializer):
    member_id = serializers.UUIDField(help_text="The member who becomes owner.")


class AcceptSerializer(InputSerializer):
    token = serializers.CharField(help_text="The token from the invitation link.")
