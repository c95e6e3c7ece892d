"""What every HTML form (pages and admin) shares."""

from django import forms

from core.errors import ApplicationError


def form_error(form: forms.Form, error: ApplicationError) -> None:
    """Show a service's refusal on the field it concerns, else above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.detail)
