import subprocess
import sys

import pytest

from herald_live.envvars import ConfigError
from herald_live.pusher import config
from tests.support.processes import ROOT, base_env


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("HERALD_TOKEN_SECRET", "s" * 40)
    return monkeypatch


def test_defaults_and_gc_thresholds(env):
    env.delenv("HERALD_PUSHER_GC_THRESHOLDS", raising=False)
    assert config.load().gc_thresholds == (700, 10, 1_000_000)  # no automatic full collection
    env.setenv("HERALD_PUSHER_GC_THRESHOLDS", "50000, 20, 100")
    assert config.load().gc_thresholds == (50000, 20, 100)


@pytest.mark.parametrize("value", ["1,2", "a,b,c", "0,10,10", "1,2,3,4"])
def test_bad_gc_thresholds_fail_loudly(env, value):
    env.setenv("HERALD_PUSHER_GC_THRESHOLDS", value)
    with pytest.raises(ConfigError, match="HERALD_PUSHER_GC_THRESHOLDS"):
        config.load()


def test_a_short_token_secret_fails_loudly(env):
    env.setenv("HERALD_TOKEN_SECRET", "short")
    with pytest.raises(ConfigError, match="HERALD_TOKEN_SECRET"):
        config.load()


def test_an_unknown_async_mode_fails_loudly(env):
    env.setenv("HERALD_PUSHER_ASYNC_MODE", "threading")
    with pytest.raises(ConfigError, match="HERALD_PUSHER_ASYNC_MODE"):
        config.async_mode()


def test_gc_maintenance_freezes_often_and_reclaims_rarely(monkeypatch):
    import gc

    from herald_live.pusher import gc_tuning

    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    monkeypatch.setattr(gc, "collect", lambda: calls.append("collect") or 0)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    gc_tuning.maintain(freeze_every=10, reclaim_every=30, sleep=sleep, clock=lambda: now[0], rounds=6)

    assert calls == [
        "freeze",
        "freeze",
        "unfreeze",
        "collect",
        "freeze",
        "freeze",
        "freeze",
        "unfreeze",
        "collect",
        "freeze",
    ]


def test_the_token_lifetime_is_the_webs_and_bad_values_fail_loudly(env):
    env.delenv("HERALD_TOKEN_TTL_SECONDS", raising=False)
    assert config.load().token_ttl_seconds == 120
    env.setenv("HERALD_TOKEN_TTL_SECONDS", "300")
    assert config.load().token_ttl_seconds == 300
    for bad in ("5", "7200", "two minutes"):
        env.setenv("HERALD_TOKEN_TTL_SECONDS", bad)
        with pytest.raises(ConfigError, match="HERALD_TOKEN_TTL_SECONDS"):
            config.load()


def test_trusted_proxies_are_addresses_or_networks_and_fail_loudly_otherwise(env):
    env.setenv("HERALD_PUSHER_TRUSTED_PROXIES", "127.0.0.1, 172.16.0.0/12")
    assert [str(n) for n in config.load().trusted_proxies] == ["127.0.0.1/32", "172.16.0.0/12"]
    env.setenv("HERALD_PUSHER_TRUSTED_PROXIES", "none")
    assert config.load().trusted_proxies == ()
    env.setenv("HERALD_PUSHER_TRUSTED_PROXIES", "localhost")
    with pytest.raises(ConfigError, match="HERALD_PUSHER_TRUSTED_PROXIES"):
        config.load()


def test_metrics_listen_on_their_own_port_next_to_the_pushers(env):
    env.setenv("HERALD_PUSHER_PORT", "8002")
    env.delenv("HERALD_PUSHER_METRICS_PORT", raising=False)
    loaded = config.load()
    assert (loaded.metrics_host, loaded.metrics_port) == ("127.0.0.1", 9002)
    env.setenv("HERALD_PUSHER_METRICS_PORT", "0")
    assert config.load().metrics_port == 0


def test_the_presence_lifetime_defaults_to_90_seconds_and_bad_values_fail_loudly(env):
    env.delenv("HERALD_PUSHER_PRESENCE_SECONDS", raising=False)
    assert config.load().presence_seconds == 90
    env.setenv("HERALD_PUSHER_PRESENCE_SECONDS", "3")
    assert config.load().presence_seconds == 3
    for bad in ("2", "3601", "a minute"):
        env.setenv("HERALD_PUSHER_PRESENCE_SECONDS", bad)
        with pytest.raises(ConfigError, match="HERALD_PUSHER_PRESENCE_SECONDS"):
            config.load()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HERALD_TOKEN_SECRET", ""), ("HERALD_TOKEN_SECRET", "short"), ("HERALD_PUSHER_ASYNC_MODE", "threading")],
)
def test_the_pusher_refuses_a_bad_setting_in_one_line_and_exit_status_2(variable, value):
    """Not a traceback: the operator reads which variable to fix, and nothing was started."""
    env = {**base_env(), "HERALD_TOKEN_SECRET": "s" * 40, variable: value}
    if not value:
        del env[variable]
    result = subprocess.run(
        [sys.executable, "-m", "herald_live.pusher"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("herald-pusher: ") and variable in line
