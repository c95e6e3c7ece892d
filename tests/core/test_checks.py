"""`manage.py check` refuses a hook setting that names code that does not exist."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from core.checks import keel_hooks


def test_the_configured_hooks_all_import():
    assert keel_hooks() == []


@pytest.mark.django_db  # `check` runs every registered check, some of which read the database
@override_settings(KEEL_SIGNUP_HOOKS=["organizations.services.tenant_create_default", "organizations.services.nope"])
def test_a_hook_that_does_not_import_fails_the_check_at_start():
    errors = keel_hooks()

    assert [(e.id, "organizations.services.nope" in e.msg, "KEEL_SIGNUP_HOOKS" in e.msg) for e in errors] == [
        ("keel.E002", True, True)
    ]
    with pytest.raises(SystemCheckError, match="organizations.services.nope"):
        call_command("check")


@override_settings(KEEL_MEMBERSHIP_END_HOOKS=["organizations.models.UNLIMITED"], KEEL_TENANT_DELETE_HOOKS="a.b")
def test_a_hook_that_is_not_callable_or_a_list_that_is_a_string_fails_too():
    assert sorted(e.id for e in keel_hooks()) == ["keel.E001", "keel.E003"]


@override_settings(
    KEEL_INVITATION_LOOKUP_HOOK="organizations.selectors.nope",
    KEEL_INVITATION_ACCEPT_HOOK=["organizations.services.invitation_accept_after_signup"],
)
def test_a_single_hook_setting_is_one_importable_path():
    errors = keel_hooks()

    assert sorted((e.id, e.msg.split(" ")[0]) for e in errors) == [
        ("keel.E002", "KEEL_INVITATION_LOOKUP_HOOK"),
        ("keel.E004", "KEEL_INVITATION_ACCEPT_HOOK"),
    ]


@override_settings(KEEL_INVITATION_LOOKUP_HOOK="", KEEL_INVITATION_ACCEPT_HOOK=None)
def test_an_empty_single_hook_is_turned_off_not_an_error():
    assert keel_hooks() == []


@override_settings(KEEL_DASHBOARD_PANELS=["billing.dashboard.plan_panel", "billing.dashboard.nope"])
def test_dashboard_panels_are_checked_like_hooks():
    errors = keel_hooks()

    assert [(e.id, "KEEL_DASHBOARD_PANELS" in e.msg) for e in errors] == [("keel.E002", True)]


@override_settings(KEEL_ACCOUNT_EXPORT_SECTIONS=["credits.selectors.user_export_api_keys", "credits.selectors.nope"])
def test_export_sections_are_checked_like_hooks():
    errors = keel_hooks()

    assert [(e.id, "KEEL_ACCOUNT_EXPORT_SECTIONS" in e.msg) for e in errors] == [("keel.E002", True)]
