from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from notifications.base.models import AbstractNotification

from herald_live.conf import MESSAGE_MAX_LENGTH

EVERYONE = "__everyone__"


class SendForm(forms.Form):
    # Exact usernames only: no stripping or case folding that could land on someone else.
    recipient = forms.CharField(
        max_length=150, strip=False, error_messages={"required": "Choose a recipient or everyone."}
    )
    message = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        strip=True,
        error_messages={"required": "Write a message."},
    )
    level = forms.ChoiceField(choices=AbstractNotification.LEVELS.choices, required=False)

    def clean_recipient(self):
        name = self.cleaned_data["recipient"]
        if name == EVERYONE:
            return None
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise forms.ValidationError("No such user.")
        return user

    def clean_level(self):
        return self.cleaned_data.get("level") or AbstractNotification.LEVELS.info
