"""HTML forms: they check the shape of the input; the services check the rules.

A form that can be refused on several fields at once (sign-up, profile) also asks the service's
own checker (`signup_errors`, `profile_errors`) in `clean()`, so that a refused form shows every
problem at once: its own (a missing field, a malformed address) beside the rules' (a taken
username, a weak password). The service checks again when it writes.
"""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import EmailType
from accounts.services import profile_errors, signup_errors
from core.errors import ApplicationError
from core.forms import form_error

PASSWORD_HELP = "At least 12 characters; not a common password, not all digits, not like your username or email."


def password_field(label: str, *, required: bool = True, help_text: str = "", **attrs) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        required=required,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", **attrs}),
    )


class ServiceErrorsMixin:
    """Show an ApplicationError on its field, or above the form if it names none."""

    def add_service_error(self, exc: ApplicationError) -> None:
        form_error(self, exc)


class SignupForm(ServiceErrorsMixin, forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits, dots, dashes or underscores.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}),
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = password_field("Password", help_text=PASSWORD_HELP)

    def clean(self):
        data = super().clean()
        for error in signup_errors(
            username=data.get("username"), email=data.get("email"), password=data.get("password")
        ):
            self.add_service_error(error)
        return data


class SignInForm(AuthenticationForm):
    """Django's sign-in form (it calls authenticate(request, ...), which axes guards)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "Enter a correct username or verified email address, and password. The password is case-sensitive."
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Username or email"
        self.fields["username"].max_length = 254
        # Django's own attributes (autofocus, autocomplete="username") and these.
        self.fields["username"].widget.attrs.update({"autocapitalize": "none", "spellcheck": "false"})


class PasswordChangeForm(ServiceErrorsMixin, forms.Form):
    old_password = forms.CharField(
        label="Current password",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
    new_password = password_field("New password", help_text=PASSWORD_HELP)

    def __init__(self, *args, has_password: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if has_password:
            self.fields["old_password"].required = True
        else:
            del self.fields["old_password"]
            self.fields["new_password"].widget.attrs["autofocus"] = True


class PasswordResetRequestForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class PasswordResetConfirmForm(ServiceErrorsMixin, forms.Form):
    new_password = password_field("New password", help_text=PASSWORD_HELP, autofocus=True)


class ProfileForm(ServiceErrorsMixin, forms.Form):
    username = forms.CharField(
        max_length=150, widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"})
    )
    first_name = forms.CharField(
        max_length=255, required=False, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        max_length=255, required=False, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    avatar_url = forms.CharField(
        label="Avatar URL",
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"inputmode": "url", "placeholder": "https://"}),
    )
    avatar = forms.FileField(
        label="…or upload an image",
        required=False,
        help_text="PNG, JPEG, GIF or WebP.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        avatar = data.get("avatar")
        for error in profile_errors(
            user=self.user,
            username=data.get("username"),
            first_name=data.get("first_name"),
            last_name=data.get("last_name"),
            # An upload replaces the URL (the view does the same).
            avatar_url=None if avatar else data.get("avatar_url"),
            avatar=avatar or None,
        ):
            self.add_service_error(error)
        return data


class EmailAddForm(ServiceErrorsMixin, forms.Form):
    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))


EMAIL_TYPE_DESCRIPTIONS = {
    EmailType.MARKETING: "Offers and news about Keel.",
    EmailType.PRODUCT_UPDATES: "New features and changes to the product.",
    EmailType.PAYMENT_RECEIPTS: "A receipt for every payment.",
}


class EmailPreferencesForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # a checkbox's label follows it: no colon
        super().__init__(*args, **kwargs)
        for email_type in EmailType:
            self.fields[email_type.value] = forms.BooleanField(
                label=email_type.label, required=False, help_text=EMAIL_TYPE_DESCRIPTIONS.get(email_type, "")
            )


class DeleteAccountForm(ServiceErrorsMixin, forms.Form):
    """Confirm with the password, or (an account without one) by typing the username."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm_username = forms.CharField(label="Type your username to confirm", required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            del self.fields["confirm_username"]
            self.fields["password"].required = True
        else:
            del self.fields["password"]
            self.fields["confirm_username"].required = True

    def clean(self):
        data = super().clean()
        password = data.get("password")
        if "password" in self.fields and password is not None and not self.user.check_password(password):
            self.add_error("password", "Your password is incorrect.")
        typed = data.get("confirm_username")
        if "confirm_username" in self.fields and typed is not None and typed.strip() != self.user.username:
            self.add_error("confirm_username", "This is not your username.")
        return data


def code_field(label: str = "Code", *, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=64,
        help_text=help_text,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false", "autofocus": True}
        ),
    )


class TwoFactorCodeForm(ServiceErrorsMixin, forms.Form):
    """The second step of signing in, re-authenticating with a code: the app's six digits or a recovery code."""

    code = code_field(help_text="The six digits your authenticator app shows, or one of your recovery codes.")


class TwoFactorConfirmForm(ServiceErrorsMixin, forms.Form):
    code = code_field("Code from your app", help_text="The six digits the app shows for Keel after scanning.")


class TwoFactorDisableForm(ServiceErrorsMixin, forms.Form):
    confirmation = forms.CharField(
        label="Your password, or a code",
        strip=False,
        max_length=4096,
        help_text="Your password, the six digits your app shows, or a recovery code.",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ReauthPasswordForm(ServiceErrorsMixin, forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
