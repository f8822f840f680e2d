"""The deployment files, checked without Docker: compose.yaml, .env.example, the Dockerfile and the systemd units.

Each checker is a plain function that returns the problems it finds; the checkers are tested on bad documents
first, so that a checker which silently finds nothing fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
SYSTEMD = ROOT / "deploy" / "systemd"
# The code that reads settings from the environment in production (scripts/ and tests/ are development only):
# the reference site's settings (web/, workers/) and the installed package (its pusher reads its environment).
SETTINGS_SOURCES = ["herald_live", "web", "workers"]
# Set by the container runtime, never by us.
RUNTIME_VARIABLES = {"HOSTNAME"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def load_yaml(text: str) -> dict:
    return YAML(typ="safe", pure=True).load(text)


# --- compose.yaml: schema ---------------------------------------------------------------------------------------


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).parent / "check-jsonschema"
    if not executable.exists():
        executable = shutil.which("check-jsonschema")
    assert executable, "check-jsonschema is not installed (requirements-dev.txt)"
    command = [str(executable), "--builtin-schema", "vendor.compose-spec", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_compose_yaml_matches_the_compose_spec():
    result = check_jsonschema(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_document_that_breaks_the_spec(tmp_path):
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  web:\n    image: herald\n    helthcheck:\n      test: [CMD, 'true']\n")
    result = check_jsonschema(bad)
    assert result.returncode != 0
    assert "helthcheck" in result.stdout + result.stderr


# --- compose.yaml: what the schema does not see ------------------------------------------------------------------


def compose_problems(document: dict) -> list[str]:
    services = document.get("services") or {}
    problems = []
    for name, service in services.items():
        healthcheck = service.get("healthcheck")
        if not healthcheck or healthcheck.get("disable") or not healthcheck.get("test"):
            problems.append(f"{name}: no healthcheck")
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {dependency: {} for dependency in depends_on}
        for dependency, options in depends_on.items():
            if dependency not in services:
                problems.append(f"{name}: depends_on {dependency!r}, which is not a service")
                continue
            condition = (options or {}).get("condition", "service_started")
            if condition not in CONDITIONS:
                problems.append(f"{name}: depends_on {dependency!r} with unknown condition {condition!r}")
            if condition == "service_healthy" and not services[dependency].get("healthcheck"):
                problems.append(f"{name}: waits for {dependency!r} to be healthy, which has no healthcheck")
    return problems


GOOD = """
services:
  db: {image: postgres, healthcheck: {test: [CMD, pg_isready]}}
  job: {image: app, depends_on: {db: {condition: service_healthy}}, healthcheck: {test: [CMD, 'true']}}
  app:
    image: app
    depends_on: {job: {condition: service_completed_successfully}}
    healthcheck: {test: [CMD, 'true']}
"""


def test_the_compose_checker_accepts_a_good_document():
    assert compose_problems(load_yaml(GOOD)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("depends_on: {db:", "depends_on: {dbx:"), "job: depends_on 'dbx', which is not a service"),
        (("depends_on: {job: {condition: service_completed_successfully}}", "depends_on: [jobs]"), "app: depends_on"),
        (("service_healthy", "service_ready"), "unknown condition 'service_ready'"),
        (("healthcheck: {test: [CMD, pg_isready]}", "command: postgres"), "db: no healthcheck"),
        (("healthcheck: {test: [CMD, pg_isready]}", "healthcheck: {disable: true}"), "db: no healthcheck"),
    ],
)
def test_the_compose_checker_flags_a_bad_document(change, expected):
    old, new = change
    assert old in GOOD
    problems = compose_problems(load_yaml(GOOD.replace(old, new)))
    assert any(expected in problem for problem in problems), problems


def test_every_dependency_exists_and_every_service_has_a_healthcheck():
    document = load_yaml(COMPOSE.read_text())
    assert compose_problems(document) == []
    services = document["services"]
    assert {"postgres", "redis", "migrate", "web", "worker-interactive", "worker-bulk", "pusher", "nginx"} <= set(
        services
    )
    assert services["pusher"]["deploy"]["replicas"] >= 2
    for name in ("web", "worker-interactive", "worker-bulk", "worker-push", "pusher"):
        assert services[name]["env_file"] == ".env", name
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy", name
    for name in ("web", "worker-interactive", "worker-bulk", "worker-push"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert "--appendonly yes" in " ".join(services["redis"]["command"])


def console_scripts() -> dict[str, str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_the_pushers_run_the_installed_console_script_and_the_pusher_directory_is_deployment_only():
    assert console_scripts()["herald-pusher"] == "herald_live.pusher.__main__:main"
    services = load_yaml(COMPOSE.read_text())["services"]
    assert services["pusher"]["command"] == ["herald-pusher"]
    assert unit("herald-pusher@.service")["Service.ExecStart"][0].endswith("/opt/herald/.venv/bin/herald-pusher")
    # pusher/ is the service's deployment (its README), never a package: nothing generic is importable as `pusher`,
    # and the old top-level modules are gone (they live in herald_live).
    assert (ROOT / "pusher" / "README.md").is_file()
    assert [p.name for p in (ROOT / "pusher").rglob("*.py")] == []
    for name in ("wire.py", "envvars.py"):
        assert not (ROOT / name).exists(), name


def test_each_worker_serves_its_own_queue_and_its_healthcheck_pings_that_worker():
    services = load_yaml(COMPOSE.read_text())["services"]
    for name, queue in (
        ("worker-interactive", "herald.interactive"),
        ("worker-bulk", "herald.bulk"),
        ("worker-push", "herald.push"),
    ):
        command = " ".join(services[name]["command"])
        node = re.search(r"-n (\S+)", command).group(1)
        assert f"-Q {queue} " in command, name
        assert f"inspect ping -d {node}" in " ".join(services[name]["healthcheck"]["test"]), name


# --- variables: compose.yaml, the code and .env.example ----------------------------------------------------------


def named_in_env_example(text: str) -> dict[str, str]:
    """``NAME=value`` lines, and ``#NAME=value`` lines (documented, set elsewhere); value "" for the latter."""
    names = {}
    for line in text.splitlines():
        match = re.match(r"^(#?)([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            assert match.group(2) not in names, f"{match.group(2)} is named twice in .env.example"
            names[match.group(2)] = "" if match.group(1) else match.group(3)
    return names


def compose_variables(text: str) -> set[str]:
    """Every variable compose.yaml reads: interpolated (${X}, $X) and escaped for the container's shell ($${X})."""
    return set(re.findall(r"\$\$?\{?([A-Za-z_][A-Za-z0-9_]*)", text))


def variables_read_by_the_code() -> set[str]:
    pattern = re.compile(r"""(?:env_[a-z]+\(\s*|environ\.get\(\s*|environ\[\s*|getenv\(\s*)["']([A-Z][A-Z0-9_]*)["']""")
    found = set()
    for source in SETTINGS_SOURCES:
        path = ROOT / source
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            found.update(pattern.findall(file.read_text()))
    return found


def test_the_variable_finders_see_every_form():
    assert compose_variables("a: ${ONE:-x}\nb: $TWO\nc: $${THREE}\nd: $$FOUR\ne: ${FIVE:?no}") == {
        "ONE",
        "TWO",
        "THREE",
        "FOUR",
        "FIVE",
    }
    assert named_in_env_example("# prose\nA=1\n#B=2\n# C=3\n") == {"A": "1", "B": ""}
    found = variables_read_by_the_code()
    assert {"DJANGO_SECRET_KEY", "HERALD_TOKEN_SECRET", "HERALD_PUSHER_PORT", "DATABASE_URL"} <= found


def test_every_variable_compose_or_the_code_reads_is_named_in_env_example():
    named = named_in_env_example(ENV_EXAMPLE.read_text())
    used = (compose_variables(COMPOSE.read_text()) | variables_read_by_the_code()) - RUNTIME_VARIABLES
    assert sorted(used - set(named)) == [], "missing from .env.example"


def test_env_example_names_nothing_that_is_never_read():
    named = named_in_env_example(ENV_EXAMPLE.read_text())
    used = compose_variables(COMPOSE.read_text()) | variables_read_by_the_code()
    # gunicorn reads WEB_CONCURRENCY itself.
    assert sorted(set(named) - used - {"WEB_CONCURRENCY"}) == []


def test_env_example_holds_placeholders_not_secrets():
    named = named_in_env_example(ENV_EXAMPLE.read_text())
    for secret in ("DJANGO_SECRET_KEY", "HERALD_TOKEN_SECRET", "POSTGRES_PASSWORD"):
        assert named[secret].startswith("replace-me"), secret
    assert named["HERALD_TOKEN_SECRETS_OLD"] == ""
    assert named["HERALD_DEBUG"] == "0"


# --- Dockerfile --------------------------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_image_runs_as_a_user_and_keeps_secrets_out_of_its_environment():
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    stages = [args.split()[-1] for op, args in instructions if op == "FROM"]
    assert stages[-1] == "app", "the default (last) target must be the Python image"
    app = instructions[[i for i, (op, args) in enumerate(instructions) if op == "FROM" and args.endswith(" app")][0] :]
    app = app[: [i for i, (op, _) in enumerate(app) if op == "FROM"][1]]
    assert app[0][1].startswith("python:3.11-slim")
    users = [args for op, args in app if op == "USER"]
    assert users and not users[-1].startswith(("root", "0")), users
    baked = " ".join(args for op, args in instructions if op in {"ENV", "ARG"})
    for secret in ("SECRET", "PASSWORD", "TOKEN"):
        assert secret not in baked.upper(), f"{secret} in ENV/ARG: {baked}"
    runs = [args for op, args in app if op == "RUN"]
    assert any("pip install -r requirements.txt" in run for run in runs)
    assert any("collectstatic" in run and "DJANGO_SECRET_KEY=" in run for run in runs)
    assert any(op == "RUN" and "npm ci" in args for op, args in instructions)


def stage(instructions: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    """The instructions of one build stage (``FROM ... AS name``), its FROM first."""
    starts = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    for start, end in zip(starts, [*starts[1:], len(instructions)], strict=True):
        if instructions[start][1].split()[-1] == name:
            return instructions[start:end]
    raise AssertionError(f"no stage {name!r}")


def test_the_image_installs_herald_from_its_wheel_with_the_browser_files_it_ships():
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    wheel, app = stage(instructions, "wheel"), stage(instructions, "app")
    # The wheel is built with the socket.io client copied from npm into the package, as `make deps` does.
    copies = [args for op, args in wheel if op == "COPY"]
    assert any(
        "node_modules/socket.io-client/dist/socket.io.min.js" in args
        and args.endswith("herald_live/static/herald/vendor/socket.io.min.js")
        for args in copies
    ), copies
    assert any("pip wheel" in args for op, args in wheel if op == "RUN")
    # The app installs that wheel (so that herald-pusher exists) and runs Herald from site-packages only: no
    # source copy of herald_live (or of the whole context) may shadow it on PYTHONPATH.
    runs = " ".join(args for op, args in app if op == "RUN")
    assert any("pip install" in args and "django_herald_live-*.whl" in args for op, args in app if op == "RUN"), runs
    assert "command -v herald-pusher" in runs
    for op, args in app:
        if op == "COPY" and "--from=" not in args:
            sources = args.split()[:-1]
            assert "." not in sources and not any(src.startswith("herald_live") for src in sources), args
    # collectstatic finds Herald's static files in the installed package.
    for path in ("var/static/herald/herald.js", "var/static/herald/vendor/socket.io.min.js"):
        assert f"test -f {path}" in runs, path


def test_the_build_context_leaves_out_local_secrets_and_environments():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".venv", "node_modules", "var", ".git"):
        assert entry in ignored, entry
    assert "!.env.example" in ignored


# --- systemd units -----------------------------------------------------------------------------------------------


def unit(name: str) -> dict[str, list[str]]:
    """``Section.Key`` -> every value it is given (systemd allows a key several times)."""
    directives: dict[str, list[str]] = {}
    section = ""
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith(("#", ";")) and "=" in line:
            key, value = line.split("=", 1)
            directives.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return directives


def test_the_units_read_the_shared_environment_file_and_take_their_instance():
    web, worker, pusher = unit("herald-web.service"), unit("herald-worker@.service"), unit("herald-pusher@.service")
    scheduler = unit("herald-scheduler.service")
    for parsed in (web, worker, pusher, scheduler):
        assert parsed["Service.EnvironmentFile"][0] == "/etc/herald/herald.env"
        assert parsed["Service.User"] == ["herald"]
        assert parsed["Install.WantedBy"] == ["multi-user.target"]
    # gunicorn with the site's config: its master serves the metrics on their own port (web/gunicorn.conf.py).
    assert "gunicorn -c /opt/herald/web/gunicorn.conf.py web.wsgi:application" in web["Service.ExecStart"][0]
    assert "-Q %i " in worker["Service.ExecStart"][0]
    # The re-drive's schedule; its file lives where the unit may write (ProtectSystem=strict).
    assert "celery -A workers.celery_app beat" in scheduler["Service.ExecStart"][0]
    assert "--schedule /var/lib/herald/" in scheduler["Service.ExecStart"][0]
    assert scheduler["Service.StateDirectory"] == ["herald"]
    # The instance's port wins over anything in herald.env: it is set on the command line.
    assert "HERALD_PUSHER_PORT=%i " in pusher["Service.ExecStart"][0]


def systemd_verify(paths: list[Path]) -> list[str]:
    """What ``systemd-analyze verify`` says about the files, less the binaries missing on this machine."""
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)], capture_output=True, text=True, timeout=60
    )
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.strip() and "is not executable" not in line]


def test_systemd_accepts_the_units(tmp_path):
    instances = {
        "herald-web.service": "herald-web.service",
        "herald-worker@.service": "herald-worker@herald.interactive.service",
        "herald-pusher@.service": "herald-pusher@8002.service",
        "herald-scheduler.service": "herald-scheduler.service",
    }
    copies = []
    for name, instance in instances.items():
        copies.append(tmp_path / instance)
        copies[-1].write_text((SYSTEMD / name).read_text())
    bad = tmp_path / "herald-bad.service"
    bad.write_text((SYSTEMD / "herald-web.service").read_text().replace("Restart=on-failure", "Restart=sometimes"))

    assert systemd_verify([bad]), "systemd-analyze did not flag a bad unit"
    assert systemd_verify(copies) == []


def test_every_gunicorn_of_the_web_starts_with_its_config_and_metrics_stay_off_the_site():
    """web/gunicorn.conf.py serves the web's metrics once, on 9101: compose, the image and the unit all use it."""
    services = load_yaml(COMPOSE.read_text())["services"]
    web = services["web"]
    assert web["command"][:4] == ["gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:application"]
    assert web["environment"]["HERALD_METRICS_PORT"] == "9101" and "9101" in web["expose"]
    for name in ("worker-interactive", "worker-bulk", "worker-push"):
        assert services[name]["environment"]["HERALD_WORKER_METRICS_PORT"] == "9102", name
    # Nothing publishes a metrics port to the host: only nginx has "ports".
    assert [name for name, service in services.items() if service.get("ports")] == ["nginx"]
    cmd = [args for op, args in dockerfile_instructions(DOCKERFILE.read_text()) if op == "CMD"][-1]
    assert '"gunicorn", "-c", "web/gunicorn.conf.py", "web.wsgi:application"' in cmd
    assert "gunicorn -c /opt/herald/web/gunicorn.conf.py " in unit("herald-web.service")["Service.ExecStart"][0]


def test_the_wheel_builds_without_node():
    """Hosts need no Node: `make wheel` builds from the committed assets, with Python alone (make's dry run)."""
    plan = subprocess.run(
        ["make", "-n", "-B", "wheel"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "pip wheel" in plan
    assert "npm" not in plan and "node_modules" not in plan
