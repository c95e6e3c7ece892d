from django.db import transaction

from accounts.models import SignupVia, User, UserEmail, normalize_email


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    email_verified: bool = False,
    via: str = SignupVia.EMAIL_PASSWORD,
    **fields,
) -> User:
    """Create a user and their primary email.

    Passwords are hashed with the first of PASSWORD_HASHERS (argon2); a user
    created without one (Google sign-in) has an unusable password.
    """
    user = User(username=username.strip(), **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if email:
        UserEmail.objects.create(
            user=user, email=normalize_email(email), is_primary=True, verified=email_verified, via=via
        )
    return user
