"""Every word of the widget is translatable, and the French catalog the package ships covers them all."""

from __future__ import annotations

import gettext
import re
import shutil

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.support.processes import ROOT

PACKAGE = ROOT / "herald_live"
SHIPPED = PACKAGE / "locale" / "fr" / "LC_MESSAGES"


def msgids(po: str) -> set[str]:
    return {match for match in re.findall(r'^msgid "(.+)"$', po, flags=re.M)}


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_shipped_french_catalog_has_every_string_of_the_code_translated(tmp_path, domain, monkeypatch):
    # makemessages reads the package as it is now, into a copy: a new string without a translation fails here.
    copy = tmp_path / "herald_live"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "vendor", "__pycache__"))
    (copy / "locale").mkdir()
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["fr"], domain=domain, verbosity=0)
    extracted = msgids((copy / "locale" / "fr" / "LC_MESSAGES" / f"{domain}.po").read_text())
    shipped = (SHIPPED / f"{domain}.po").read_text()
    assert extracted and extracted == msgids(shipped)
    assert not re.search(r'^msgstr(\[\d\])? ""\n\n', shipped + "\n", flags=re.M), "an untranslated string"
    # The compiled catalog Django reads says what the .po says (msgfmt was run after the last edit).
    with (SHIPPED / f"{domain}.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    for msgid, msgstr in re.findall(r'^msgid "(.+)"\nmsgstr "(.+)"$', shipped, flags=re.M):
        assert catalog.gettext(msgid) == msgstr


@pytest.mark.django_db
def test_a_french_site_gets_the_widget_and_its_script_in_french(client, alice):
    client.force_login(alice)
    with override_settings(LANGUAGE_CODE="fr"):
        page = client.get("/herald/")
        catalog = client.get("/herald/jsi18n/")
    assert "Tout marquer comme lu" in page.content.decode()
    assert "Toutes les notifications sont marqu\\u00e9es comme lues" in catalog.content.decode() or (
        "Toutes les notifications sont marquées comme lues" in catalog.content.decode()
    )
