"""What every HTML form (pages and admin) shares."""

import datetime as dt

from django import forms
from django.forms.renderers import TemplatesSetting

from core.errors import ApplicationError
from core.time import MS_PER_DAY


def form_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal on the field it concerns, else above the form (each one of
    several raised together: `ApplicationErrors`)."""
    for one in getattr(error, "errors", None) or [error]:
        form.add_error(one.field if one.field in form.fields else None, one.detail)


class FormRenderer(TemplatesSetting):
    """Pages' forms with labels above inputs, a checkbox before its label, and every error at
    once: `{{ form }}` renders templates/forms/form.html (docs/design.md, "Forms")."""

    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


class DateWindowForm(forms.Form):
    """Filters of a page by a UTC date range (the ledger, the audit log), both ends optional."""

    since = forms.DateField(required=False, label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (UTC)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data

    def window_ms(self) -> tuple[int | None, int | None]:
        """[since 00:00 UTC, the day after until 00:00 UTC) in epoch ms."""

        def ms(day: dt.date) -> int:
            return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)

        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        return (ms(since) if since else None, ms(until) + MS_PER_DAY if until else None)
