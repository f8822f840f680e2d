import pytest

from envvars import ConfigError
from pusher import config


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("HERALD_TOKEN_SECRET", "s" * 40)
    return monkeypatch


def test_defaults_and_gc_thresholds(env):
    env.delenv("HERALD_PUSHER_GC_THRESHOLDS", raising=False)
    assert config.load().gc_thresholds is None
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
