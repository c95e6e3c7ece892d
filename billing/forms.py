"""Plain forms for the billing pages: they shape input; the services decide."""

from django import forms

from billing.plans import PlanKind


class CheckoutForm(forms.Form):
    price = forms.CharField(max_length=255)
    kind = forms.ChoiceField(choices=PlanKind.choices, required=False)
