import pytest

from herald_live import envvars


def test_a_required_variable_that_is_missing_fails_with_its_name(monkeypatch):
    monkeypatch.delenv("HERALD_X", raising=False)
    with pytest.raises(envvars.ConfigError, match="HERALD_X"):
        envvars.env_str("HERALD_X")


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (lambda: envvars.env_int("HERALD_X", 1), "ten"),
        (lambda: envvars.env_int("HERALD_X", 1, minimum=1, maximum=5), "9"),
        (lambda: envvars.env_bool("HERALD_X", False), "maybe"),
        (lambda: envvars.env_choice("HERALD_X", "a", ("a", "b")), "c"),
        (lambda: envvars.env_secret("HERALD_X"), "short"),
    ],
)
def test_bad_values_fail_loudly(monkeypatch, reader, value):
    monkeypatch.setenv("HERALD_X", value)
    with pytest.raises(envvars.ConfigError, match="HERALD_X"):
        reader()


def test_good_values_are_parsed(monkeypatch):
    monkeypatch.setenv("HERALD_X", "a, b,,c")
    assert envvars.env_list("HERALD_X", []) == ["a", "b", "c"]
    monkeypatch.setenv("HERALD_X", "off")
    assert envvars.env_bool("HERALD_X", True) is False
    monkeypatch.setenv("HERALD_X", "42")
    assert envvars.env_int("HERALD_X", 1, minimum=1) == 42
