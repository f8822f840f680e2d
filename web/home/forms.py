from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from notifications.base.models import AbstractNotification

from herald_live import producers
from herald_live.conf import MESSAGE_MAX_LENGTH
from herald_live.permissions import can_send_to_everyone

EVERYONE_FIELD = "everyone"


def asks_for_everyone(data) -> bool:
    """Whether a posted form ticks "everyone", read exactly as the checkbox field reads it.

    The view asks this before validating, so that a sender without the permission gets a
    403 even though their form has no such field.
    """
    return forms.CheckboxInput().value_from_datadict(data, {}, EVERYONE_FIELD)


class SendForm(forms.Form):
    # Exact usernames only: no stripping or case folding that could land on someone else.
    # Not required by itself: "everyone" (for those allowed) is the other way to address a send.
    recipient = forms.CharField(max_length=150, strip=False, required=False)
    everyone = forms.BooleanField(required=False, label="Everyone")
    message = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        strip=True,
        error_messages={"required": "Write a message."},
    )
    level = forms.ChoiceField(choices=AbstractNotification.LEVELS.choices, required=False)

    def __init__(self, *args, sender, **kwargs):
        super().__init__(*args, **kwargs)
        self.sender = sender
        self.may_send_to_everyone = can_send_to_everyone(sender)
        if not self.may_send_to_everyone:
            # Absent for them: never rendered, never read from the post.
            del self.fields[EVERYONE_FIELD]

    def clean_recipient(self):
        name = self.cleaned_data["recipient"]
        if name == "":
            return None
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No such user.")
        return user

    def clean_message(self):
        # The same check as every other door (producers.check_text): what one refuses, all refuse.
        message = self.cleaned_data["message"]
        try:
            producers.check_text(message, name="The message")
        except producers.InvalidNotification as exc:
            raise forms.ValidationError(f"{exc}.") from None
        return message

    def clean_level(self):
        return self.cleaned_data.get("level") or AbstractNotification.LEVELS.info

    def clean(self):
        cleaned = super().clean()
        everyone = bool(cleaned.get(EVERYONE_FIELD))
        if "recipient" in self.errors:
            return cleaned
        recipient = cleaned.get("recipient")
        if everyone and recipient is not None:
            # Both named: refuse rather than guess which one was meant.
            self.add_error("recipient", "Clear the recipient to send to everyone, or untick Everyone.")
        elif not everyone and recipient is None:
            message = "Type the username of the recipient"
            self.add_error("recipient", f"{message}, or tick Everyone." if self.may_send_to_everyone else f"{message}.")
        cleaned[EVERYONE_FIELD] = everyone
        return cleaned
