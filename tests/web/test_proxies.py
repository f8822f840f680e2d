import pytest
from django.core.exceptions import ImproperlyConfigured

from web.proxies import client_ip, parse_networks

TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1"])


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("127.0.0.1", "198.51.100.4", "198.51.100.4"),  # one trusted proxy
        ("127.0.0.1", "198.51.100.4, 10.1.2.3", "198.51.100.4"),  # two trusted hops
        ("127.0.0.1", "6.6.6.6, 198.51.100.4", "198.51.100.4"),  # a client-written entry is skipped
        ("203.0.113.9", "198.51.100.4", "203.0.113.9"),  # not from a proxy: header ignored
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("127.0.0.1", "garbage, 198.51.100.4", "198.51.100.4"),
    ],
)
def test_the_client_ip_is_the_first_untrusted_hop_from_the_right(remote, forwarded, expected):
    assert client_ip(remote_addr=remote, forwarded_for=forwarded, trusted=TRUSTED) == expected


def test_a_bad_proxy_setting_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="HERALD_TRUSTED_PROXIES"):
        parse_networks(["not-an-ip"])


@pytest.mark.django_db
def test_the_middleware_records_the_forwarded_ip_for_the_session(client, django_user_model, settings):
    settings.HERALD_TRUSTED_PROXIES = ["127.0.0.1"]
    from user_sessions.models import Session

    django_user_model.objects.create_user("alice", password="pw-alice-123")
    client.post(
        "/accounts/login/",
        {"username": "alice", "password": "pw-alice-123"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.4",
        HTTP_USER_AGENT="test",
    )

    assert Session.objects.get(user__username="alice").ip == "198.51.100.4"
