"""Notification preferences: the page (works without JavaScript) and its JSON API (docs/channels.md)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from herald_live.actions import preferences
from herald_live.infra.http import (
    back,
    csrf_checked,
    error_response,
    json_only,
    login_required_4xx,
    methods,
    wants_json,
    whole_number,
)
from herald_live.models import Channel
from herald_live.selectors import preferences as preference_selectors


@csrf_checked
@never_cache
@login_required
@methods("GET", "POST")
def preferences_page(request: HttpRequest):
    """Per type and channel on or off, the email digest, and the mutes (each with "unmute")."""
    if request.method == "POST":
        if "unmute" in request.POST:
            try:
                mute_id = whole_number(request.POST["unmute"], name="unmute", default=None)
            except ValueError as exc:
                return error_response(request, status=400, message=str(exc))
            if mute_id is None or not preferences.unmute(user=request.user, mute_id=mute_id):
                return error_response(request, status=404, message=_("You have no such mute."))
            return redirect(f"{reverse('herald:preferences')}?unmuted=1")
        try:
            preferences.update(
                user=request.user,
                choices=_form_choices(request.POST.getlist("shown"), set(request.POST.getlist("on"))),
                email_digest=request.POST.get("email_digest") or None,
            )
        except preferences.InvalidPreferences as exc:
            return _preferences_page(request, error=str(exc), status=400)
        return redirect(f"{reverse('herald:preferences')}?saved=1")
    return _preferences_page(request)


def _form_choices(shown: list[str], on: set[str]) -> dict[str, dict[str, bool]]:
    """The page's boxes as choices: each box the page showed enabled ("shown"), checked ("on") or not.

    A disabled box (push and email of a type off in the site) is not sent, and keeps its value.
    """
    choices: dict[str, dict[str, bool]] = {}
    for box in shown:
        name, _sep, channel = box.rpartition(":")
        if not name:
            raise preferences.InvalidPreferences(_("%(box)s is no type and channel.") % {"box": box})
        choices.setdefault(name, {})[channel] = box in on
    return choices


def _preferences_page(request: HttpRequest, *, error: str = "", status: int = 200):
    state = preference_selectors.preferences_of(user=request.user)
    channels = state["channels"]
    rows = []
    for kind in state["types"]:
        in_site = kind["channels"][Channel.IN_APP]
        cells = [
            {
                "channel": channel["channel"],
                "label": channel["label"],
                "enabled": kind["channels"][channel["channel"]],
                # Push and email start from the row the site channel writes: without it, they have nothing.
                "disabled": channel["channel"] != Channel.IN_APP and not in_site,
            }
            for channel in channels
        ]
        rows.append({**kind, "cells": cells})
    return render(
        request,
        "herald/preferences.html",
        {
            "channels": channels,
            "types": rows,
            "email_digest": state["email_digest"],
            "email_digest_choices": state["email_digest_choices"],
            "has_email_address": state["has_email_address"],
            "mutes": state["mutes"],
            "saved": request.GET.get("saved") == "1" and not error,
            "unmuted": request.GET.get("unmuted") == "1" and not error,
            "error": error,
        },
        status=status,
    )


@json_only
@csrf_checked
@never_cache
@login_required_4xx
@methods("GET", "PATCH", "PUT")
def preferences_api(request: HttpRequest):
    """GET: every type with its defaults and the user's values, the digest, the mutes. PATCH sets what it
    names; PUT sets everything (what it leaves out goes back to its default). Both answer like GET."""
    if request.method != "GET":
        try:
            body = _json_object(request)
            unknown = set(body) - {"types", "email_digest"}
            if unknown:
                raise preferences.InvalidPreferences(
                    _("Unknown fields: %(fields)s. Send types and email_digest.")
                    % {"fields": ", ".join(sorted(unknown))}
                )
            preferences.update(
                user=request.user,
                choices=body.get("types", {}),
                email_digest=body.get("email_digest"),
                replace=request.method == "PUT",
            )
        except preferences.InvalidPreferences as exc:
            return error_response(request, status=400, message=str(exc))
    return JsonResponse(preference_selectors.preferences_of(user=request.user))


@csrf_checked
@never_cache
@login_required_4xx
@methods("POST")
def mutes(request: HttpRequest):
    """Mutes what one of the user's notifications is about: ``notification_id``, and ``until`` (ISO 8601) or
    ``for_hours``, or neither (for ever). JSON, or a plain form post that returns to ``next``."""
    if request.content_type == "application/json":
        request.herald_json_only = True  # a JSON body gets a JSON answer, whatever its Accept header
    try:
        if request.content_type == "application/json":
            body = _json_object(request)
        else:
            body = {
                name: request.POST[name] for name in ("notification_id", "until", "for_hours") if request.POST.get(name)
            }
            if "for_hours" in body:
                body["for_hours"] = _number(body["for_hours"], name="for_hours")
            if "notification_id" in body:
                body["notification_id"] = whole_number(body["notification_id"], name="notification_id", default=None)
        notification_id = body.get("notification_id")
        if isinstance(notification_id, bool) or not isinstance(notification_id, int) or notification_id < 1:
            raise preferences.InvalidPreferences(_("notification_id must be the id of one of your notifications."))
        until = preferences.mute_end(until=body.get("until"), for_hours=body.get("for_hours"))
        mute, created = preferences.mute(user=request.user, notification_id=notification_id, until=until)
    except (preferences.InvalidPreferences, preferences.NothingToMute, ValueError) as exc:
        return error_response(request, status=400, message=str(exc))
    except ObjectDoesNotExist:
        return error_response(request, status=404, message=_("You have no such notification."))
    if wants_json(request):
        return JsonResponse(preference_selectors.mute_payload(mute), status=201 if created else 200)
    return back(request)


@json_only
@csrf_checked
@never_cache
@login_required_4xx
@methods("DELETE")
def mute_detail(request: HttpRequest, mute_id: int):
    if not preferences.unmute(user=request.user, mute_id=mute_id):
        return error_response(request, status=404, message=_("You have no such mute."))
    return JsonResponse({"id": mute_id, "muted": False})


def _json_object(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise preferences.InvalidPreferences(_("The body must be JSON.")) from None
    if not isinstance(body, dict):
        raise preferences.InvalidPreferences(_("The body must be a JSON object."))
    return body


def _number(value: str, *, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise preferences.InvalidPreferences(_("%(name)s must be a number.") % {"name": name}) from None
