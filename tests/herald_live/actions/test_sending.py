"""Recording a send (herald_live/actions/sending.py)."""

from __future__ import annotations

import pytest

from herald_live.actions import sending

pytestmark = pytest.mark.django_db


def test_sending_names_exactly_one_audience(django_user_model):
    user = django_user_model.objects.create_user("alice")
    with pytest.raises(ValueError, match="exactly one"):
        sending.send_notification(actor=user, recipient=user, everyone=True, verb="x", level="info")
    with pytest.raises(ValueError, match="exactly one"):
        sending.send_notification(actor=user, verb="x", level="info")
