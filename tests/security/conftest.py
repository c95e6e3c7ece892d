import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """New passwords hashed with a fast hasher (argon2 still checks the factories' hashes): what these
    tests attack is the flow around the password, and tests/security must stay fast."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]
