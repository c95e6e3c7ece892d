"""System checks: a setting that names code names code that exists (`manage.py check`, runserver, migrate).

The `KEEL_*_HOOKS`, `KEEL_*_NOTICES` and `KEEL_*_PANELS` settings are dotted paths
resolved only when the hook runs (a sign-up, an account deletion, a dashboard): a
typo would surface as a 500 in the middle of that flow. This check imports every
one at start-up.
"""

import re

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

HOOK_SETTING = re.compile(r"KEEL_[A-Z_]+_(HOOKS|NOTICES|PANELS)")


@register()
def keel_hooks(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    for name in sorted({n for n in dir(settings) if HOOK_SETTING.fullmatch(n)}):
        paths = getattr(settings, name)
        if isinstance(paths, str) or not all(isinstance(path, str) for path in paths):
            errors.append(Error(f"{name} must be a list of dotted paths.", id="keel.E001"))
            continue
        for path in paths:
            try:
                hook = import_string(path)
            except ImportError as exc:
                errors.append(
                    Error(
                        f"{name} names {path!r}, which cannot be imported: {exc}",
                        hint="Fix the dotted path, or remove it from the list.",
                        id="keel.E002",
                    )
                )
            else:
                if not callable(hook):
                    errors.append(Error(f"{name} names {path!r}, which is not callable.", id="keel.E003"))
    return errors
