"""What every HTML form (pages and admin) shares."""

from django import forms
from django.forms.renderers import TemplatesSetting

from core.errors import ApplicationError


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
