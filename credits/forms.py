from django import forms

from core.forms import DateWindowForm
from core.time import MS_PER_DAY
from credits.models import MAX_CREDITS, TransactionType
from credits.services.grants import MAX_PRIORITY
from organizations.models import Tenant


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses it, e.g. “billing worker” or “staging”. You will see the key once.",
    )
    # A token per form shown: the same form sent twice (a double click, "resend") makes one key.
    once = forms.UUIDField(required=False, widget=forms.HiddenInput)


class StaffGrantForm(forms.Form):
    """Admin: credits given by staff (mode `grant`), through `credits_grant`."""

    organization = forms.CharField(max_length=255, help_text="The organization's slug.")
    amount = forms.IntegerField(min_value=1, max_value=MAX_CREDITS)
    priority = forms.IntegerField(
        initial=50, min_value=-MAX_PRIORITY, max_value=MAX_PRIORITY, help_text="Higher is consumed first."
    )
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=36500, help_text="Leave empty for credits that never expire."
    )
    reason = forms.CharField(max_length=500, help_text="Shown in the organization's ledger.")

    def clean_organization(self):
        slug = self.cleaned_data["organization"].strip()
        tenant = Tenant.objects.alive().filter(slug=slug).first()
        if tenant is None:
            raise forms.ValidationError("No live organization has this slug.")
        return tenant

    def expires_at(self, now: int) -> int | None:
        days = self.cleaned_data.get("expires_in_days")
        return None if days is None else now + days * MS_PER_DAY


class OverdraftForm(forms.Form):
    """Admin: let an organization owe credits up to a maximum."""

    organization = forms.CharField(max_length=255, help_text="The organization's slug.")
    enabled = forms.BooleanField(required=False, help_text="Allow consumption beyond the balance.")
    limit = forms.IntegerField(min_value=0, max_value=MAX_CREDITS, initial=0, help_text="The most it may owe.")

    clean_organization = StaffGrantForm.clean_organization


class StaffApiKeyForm(forms.Form):
    """Admin: a key for a member of an organization."""

    organization = forms.CharField(max_length=255, help_text="The organization's slug.")
    username = forms.CharField(max_length=255, help_text="The member the key acts as.")
    name = forms.CharField(max_length=100)

    clean_organization = StaffGrantForm.clean_organization


class TransactionFilterForm(DateWindowForm):
    """The credits page's filters (GET): a type, a member (from the members table), a UTC date range."""

    field_order = ["type", "member", "since", "until"]

    type = forms.ChoiceField(choices=[("", "All types"), *TransactionType.choices], required=False)
    member = forms.UUIDField(required=False, widget=forms.HiddenInput)
