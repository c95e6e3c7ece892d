"""Plain forms for the organization pages. They shape input; the services decide and validate the rules."""

from django import forms

from audit.actions import ACTIONS
from core.forms import DateWindowForm
from organizations.models import UNLIMITED, MemberRole, Permission


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=255)
    slug = forms.CharField(
        max_length=50,
        required=False,
        help_text="Lowercase letters, digits and hyphens; used in links. Leave empty to derive it from the name.",
    )
    logo_url = forms.URLField(label="Logo URL", required=False, assume_scheme="https")


class OrganizationSettingsForm(OrganizationForm):
    slug = forms.CharField(
        max_length=50, help_text="Changing it keeps old links working: they lead here with the new slug."
    )


class DeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Type the organization's name to confirm", max_length=255)


class TransferForm(forms.Form):
    member = forms.ChoiceField(label="New owner")

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [(str(m.pk), m.user.get_full_name()) for m in members]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=MemberRole.choices)
    permissions = forms.MultipleChoiceField(
        choices=Permission.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only for the custom role.",
    )


class CreditLimitForm(forms.Form):
    credit_limit = forms.IntegerField(
        min_value=UNLIMITED, initial=UNLIMITED, help_text="Credits this member may use here; -1 for unlimited."
    )


class InvitationForm(RoleForm):
    email = forms.EmailField()
    credit_limit = forms.IntegerField(
        min_value=UNLIMITED, initial=UNLIMITED, help_text="Credits the member may use; -1 for unlimited."
    )

    field_order = ["email", "role", "permissions", "credit_limit"]


class AuditFilterForm(DateWindowForm):
    """The audit log page's filters (GET): an action, who acted (a member), a UTC date range."""

    field_order = ["action", "actor", "since", "until"]

    action = forms.ChoiceField(choices=[("", "All actions"), *ACTIONS.items()], required=False)
    actor = forms.ChoiceField(label="By", required=False)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), *members]
