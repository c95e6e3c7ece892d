"""System checks: a setting that names code names code that exists (`manage.py check`, runserver, migrate).

The `KEEL_*_HOOKS`, `KEEL_*_NOTICES`, `KEEL_*_PANELS` and `KEEL_*_SECTIONS` settings (lists) and the `KEEL_*_HOOK`
ones (one path, or empty for none) are dotted paths resolved only when the hook runs (a sign-up,
an account deletion, a dashboard, a data export): a typo would surface as a 500 in the middle of that flow.
This check imports every one at start-up.
"""

import re

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

HOOK_SETTING = re.compile(r"KEEL_[A-Z_]+_(HOOKS|NOTICES|PANELS|SECTIONS)")
SINGLE_HOOK_SETTING = re.compile(r"KEEL_[A-Z_]+_HOOK")


def _import_errors(name: str, path: str) -> list[Error]:
    try:
        hook = import_string(path)
    except ImportError as exc:
        return [
            Error(
                f"{name} names {path!r}, which cannot be imported: {exc}",
                hint="Fix the dotted path, or remove it.",
                id="keel.E002",
            )
        ]
    if not callable(hook):
        return [Error(f"{name} names {path!r}, which is not callable.", id="keel.E003")]
    return []


@register()
def keel_hooks(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    names = set(dir(settings))
    for name in sorted(n for n in names if HOOK_SETTING.fullmatch(n)):
        paths = getattr(settings, name)
        if isinstance(paths, str) or not all(isinstance(path, str) for path in paths):
            errors.append(Error(f"{name} must be a list of dotted paths.", id="keel.E001"))
            continue
        for path in paths:
            errors.extend(_import_errors(name, path))
    for name in sorted(n for n in names if SINGLE_HOOK_SETTING.fullmatch(n)):
        path = getattr(settings, name)
        if path in (None, ""):
            continue  # turned off
        if not isinstance(path, str):
            errors.append(Error(f"{name} must be one dotted path (or empty).", id="keel.E004"))
            continue
        errors.extend(_import_errors(name, path))
    return errors
