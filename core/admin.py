"""Admin helpers shared by every app's admin: the read-only bases, service-backed actions,
dates from epoch ms, readable JSON, one-click links.

Every Keel admin derives from `ReadOnlyAdmin` (and every inline from `ReadOnlyTabularInline`):
the model forms add, change and delete nothing, because services own every write (the last-owner
rule, API-key revocation, the ledger, slug history). What staff may change is an action or a small
form that calls the service; `tests/core/test_admin_writes.py` walks the registry to keep it so.
"""

import functools
import json
import types
from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.errors import ApplicationError
from core.forms import form_error
from core.time import ms_to_datetime

# The submit button of an action's own page: only a POST carrying it writes, so the
# changelist's first POST (choosing the action) and a GET of an object's action link show the page.
APPLY = "_keel_apply"


class ReadOnlyMixin:
    """Viewable (the view permission stays), never added, changed or deleted through a model form."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def apply_each(
    model_admin: admin.ModelAdmin,
    request,
    objects: Iterable,
    service: Callable[[object], object],
    *,
    done: str,
    label: Callable[[object], str] = str,
) -> int:
    """Call `service` on each object, each in the service's own transaction: a refusal
    (`ApplicationError`) is one warning naming that object, and the others still apply.
    `done` is the success message, with `{count}`."""
    succeeded = 0
    for obj in objects:
        try:
            service(obj)
        except ApplicationError as error:
            model_admin.message_user(request, f"{label(obj)}: {error.detail}", messages.WARNING)
        else:
            succeeded += 1
    if succeeded:
        model_admin.message_user(request, done.format(count=succeeded), messages.SUCCESS)
    return succeeded


def confirm_action(
    *,
    description: str,
    form_class: type[forms.Form] | None = None,
    intro: str = "",
    initial: Callable[[QuerySet], dict] | None = None,
):
    """An admin action that first shows its own page (its form, or the selected rows to confirm)
    and applies only when that page is submitted. The decorated function receives the form's
    cleaned data as keyword arguments: `def change_role(self, request, queryset, *, role)`.

    Offered on the changelist, and on one object's change page when named in `object_actions`.
    """

    def decorator(apply: Callable) -> Callable:
        @functools.wraps(apply)
        def action(model_admin, request, queryset):
            submitted = request.method == "POST" and APPLY in request.POST
            form = None
            if form_class is not None:
                start = initial(queryset) if initial is not None and not submitted else None
                form = form_class(request.POST if submitted else None, prefix="keel", initial=start)
            if submitted and (form is None or form.is_valid()):
                apply(model_admin, request, queryset, **(form.cleaned_data if form is not None else {}))
                return None
            return model_admin.action_page(
                request, queryset, action=apply.__name__, title=description, form=form, intro=intro
            )

        action.keel_confirms = True
        return admin.action(description=description)(action)

    return decorator


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Rows written by services only. Staff writes are actions and forms that call a service:
    `tools` are buttons above the list (url names), `object_tools` buttons on a row's page
    (url names taking the row's pk), `object_actions` the `confirm_action`s also offered there."""

    change_list_template = "admin/keel/change_list.html"
    change_form_template = "admin/keel/change_form.html"
    tools: tuple[tuple[str, str], ...] = ()
    object_tools: tuple[tuple[str, str], ...] = ()
    object_actions: tuple[str, ...] = ()

    def get_urls(self):
        meta = self.model._meta
        view = self.admin_site.admin_view(self.object_action_view)
        # Before the defaults: their `<path:object_id>/` catch-all would swallow this path.
        return [
            path(
                "<path:object_id>/actions/<str:action>/",
                view,
                name=f"{meta.app_label}_{meta.model_name}_action",
            ),
            *super().get_urls(),
        ]

    def _epoch_ms_fields(self) -> list[str]:
        """The model's epoch-millisecond columns (BIGINT `*_at` and `*_period_start/end`)."""
        return [
            field.name
            for field in self.model._meta.concrete_fields
            if isinstance(field, models.BigIntegerField)
            and (field.name.endswith("_at") or field.name.endswith(("period_start", "period_end")))
        ]

    def _epoch_display(self, name: str) -> str:
        display = f"{name}_display"
        if not hasattr(self, display):
            setattr(self, display, types.MethodType(ms_column(name), self))
        return display

    def get_fields(self, request, obj=None):
        """A row's page shows epoch milliseconds as UTC dates, once, instead of the raw number."""
        epoch = set(self._epoch_ms_fields())
        shown = []
        for name in super().get_fields(request, obj):
            name = self._epoch_display(name) if name in epoch else name
            if name not in shown:
                shown.append(name)
        return shown

    def get_readonly_fields(self, request, obj=None):
        displays = [self._epoch_display(name) for name in self._epoch_ms_fields()]
        return [*super().get_readonly_fields(request, obj), *(d for d in displays if d not in self.readonly_fields)]

    def changelist_view(self, request, extra_context=None):
        tools = [(label, reverse(name)) for label, name in self.tools]
        return super().changelist_view(request, {**(extra_context or {}), "keel_tools": tools})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tools = self.object_tool_links(request, object_id)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "keel_tools": tools})

    def object_tool_links(self, request, object_id) -> list[tuple[str, str]]:
        links = [(label, reverse(name, args=[object_id])) for label, name in self.object_tools]
        actions = self.get_actions(request)
        meta = self.model._meta
        for name in self.object_actions:
            if name in actions:
                url = reverse(f"admin:{meta.app_label}_{meta.model_name}_action", args=[object_id, name])
                links.append((actions[name][2], url))
        return links

    def object_action_view(self, request, object_id, action):
        """One object's `confirm_action`: the same page and service as from the changelist."""
        func = self.get_actions(request).get(action, (None,))[0]
        # Only confirming actions: a GET of this URL must show a page, never write.
        if action not in self.object_actions or not getattr(func, "keel_confirms", False):
            raise Http404
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        response = func(self, request, self.get_queryset(request).filter(pk=obj.pk))
        if response is not None:
            return response
        meta = self.model._meta
        if self.get_queryset(request).filter(pk=obj.pk).exists():
            return redirect(f"admin:{meta.app_label}_{meta.model_name}_change", obj.pk)
        return redirect(f"admin:{meta.app_label}_{meta.model_name}_changelist")

    def action_page(self, request, queryset, *, action: str, title: str, form=None, intro: str = ""):
        """The page of a `confirm_action`: what it applies to, its form, one submit button."""
        objects = list(queryset)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "intro": intro,
            "form": form,
            "objects": [(obj.pk, self.object_label(obj)) for obj in objects],
            "action": action,
            "apply": APPLY,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        status = 400 if form is not None and form.errors else 200
        return TemplateResponse(request, "admin/keel/action_form.html", context, status=status)

    def object_label(self, obj) -> str:
        """How an object is named in messages and on action pages."""
        return str(obj)

    def service_form_view(self, request, form, *, apply: Callable[[dict], tuple[str, str]], title: str, **page):
        """A form whose submission calls a service: `apply(cleaned_data)` calls it and returns
        (success message, where to go). A refusal shows on the form (field, else above it), 400."""
        if request.method == "POST" and form.is_valid():
            try:
                message, location = apply(form.cleaned_data)
            except ApplicationError as error:
                form_error(form, error)
            else:
                messages.success(request, message)
                return redirect(location)
        return self.form_page(request, title=title, form=form, status=400 if form.errors else 200, **page)

    def form_page(self, request, *, title: str, form, status: int = 200, intro: str = "", obj=None):
        """A service-backed form (a grant, an overdraft, an organization's name) in the admin's layout."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "intro": intro,
            "opts": self.model._meta,
            "original": obj,
        }
        return TemplateResponse(request, "admin/keel/form.html", context, status=status)


class ReadOnlyTabularInline(ReadOnlyMixin, admin.TabularInline):
    """Related rows shown on a page, each linking to its own page. Add `row_actions` to
    `fields` for links to the row's own actions (its admin's `object_actions`)."""

    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="actions")
    def row_actions(self, obj):
        model_admin = self.admin_site.get_model_admin(type(obj))
        meta = obj._meta
        name = f"admin:{meta.app_label}_{meta.model_name}_action"
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse(name, args=[obj.pk, action]), getattr(type(model_admin), action).short_description)
                for action in getattr(model_admin, "object_actions", ())
            ),
        )


def ms_column(field: str, description: str | None = None):
    """A list/readonly column showing an epoch-millisecond field as a UTC date."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(_admin, obj):
        value = ms_to_datetime(getattr(obj, field))
        return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"

    column.__name__ = f"{field}_display"
    return column


def json_column(field: str, description: str | None = None):
    """A read-only, indented rendering of a JSON field."""

    @admin.display(description=description or field.replace("_", " "))
    def column(_admin, obj):
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>',
            json.dumps(getattr(obj, field), indent=2, sort_keys=True, default=str),
        )

    column.__name__ = f"{field}_pretty"
    return column


def link_column(field: str, description: str | None = None):
    """A link to the change page of the row a foreign key points at."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(_admin, obj):
        target = getattr(obj, field)
        if target is None:
            return "—"
        meta = target._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[target.pk])
        return format_html('<a href="{}">{}</a>', url, target)

    column.__name__ = f"{field}_link"
    return column
