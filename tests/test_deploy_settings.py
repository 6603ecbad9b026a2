"""Production settings and the production shape.

Settings are read once per process, so each case runs manage.py in a subprocess
with the environment a deployment would give it. DATABASE_URL and REDIS_URL are
passed through as they are: the checks hold for SpatiaLite and PostGIS alike.
"""

import importlib.util
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Whatever the developer's shell says about these must not leak into a check of
# the production defaults.
PRODUCTION_OVERRIDES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "STATIC_ROOT",
)


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in PRODUCTION_OVERRIDES}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def production(**env: str) -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "gridcase.example.org",
    } | env


def dockerfile_manage_command(name: str) -> list[str]:
    """The arguments after `manage.py` of the Dockerfile's RUN step for `name`."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    dockerfile = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    for command in re.split(r"&&|\n", dockerfile.replace("\\\n", " ")):
        words = shlex.split(command)
        if "manage.py" in words and name in words:
            return words[words.index("manage.py") + 1 :]
    raise AssertionError(f"no `manage.py {name}` in the Dockerfile")


def test_it_passes_the_deploy_check():
    result = run("manage.py", "check", "--deploy", "--fail-level", "WARNING", **production())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_it_passes_the_deploy_check_behind_a_tls_proxy():
    result = run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **production(
            SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO",
            CSRF_TRUSTED_ORIGINS="https://gridcase.example.org",
        ),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_without_a_secret_key_it_makes_one_once_and_keeps_it(tmp_path):
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = run("-c", f"import django; django.setup(); {show}", VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    again = run("-c", f"import django; django.setup(); {show}", VAR_DIR=str(tmp_path))
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50 and first.stdout.strip() == again.stdout.strip() == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by its owner only


def test_it_refuses_the_example_secret():
    from django.conf import settings

    for debug in ("false", "true"):
        result = run("manage.py", "check", DEBUG=debug, SECRET_KEY=settings.EXAMPLE_SECRET_KEY)
        assert result.returncode != 0
        assert "Set SECRET_KEY" in result.stderr


def test_a_real_host_name_gets_https_only_cookies_and_the_redirect_by_default():
    show = (
        "from django.conf import settings; "
        "print(settings.SESSION_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT, settings.DEBUG)"
    )
    demo = run("-c", f"import django; django.setup(); {show}")
    assert demo.stdout.split() == ["False", "False", "False"], demo.stderr
    real = run("-c", f"import django; django.setup(); {show}", ALLOWED_HOSTS="gridcase.example.org")
    assert real.stdout.split() == ["True", "True", "False"], real.stderr


def test_the_demo_server_shows_a_stranger_no_debug_page(reference_data):
    from tests.live import live_server

    # The environment `make run` gives it: none of ours (DEBUG unset).
    with live_server(DEBUG=None) as url:
        for path, status in (("/no-such-page/", 404), ("/cases/nothing/", 302)):
            try:
                response = urllib.request.urlopen(url + path, timeout=10)
                code, body = response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                code, body = error.code, error.read().decode()
            assert code in (status, 200), (path, code)
            assert "URLconf" not in body and "Traceback" not in body and "DEBUG" not in body
        request = urllib.request.Request(url + "/", headers={"Host": "evil.example"})
        try:
            urllib.request.urlopen(request, timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 400
            assert "ALLOWED_HOSTS" not in error.read().decode()
        else:
            raise AssertionError("a foreign Host header was served")


def test_the_image_build_collects_static_files_for_the_manifest_storage(tmp_path):
    # The Dockerfile's own collectstatic line, with DEBUG off as in the build.
    args = dockerfile_manage_command("collectstatic")
    result = run("manage.py", *args, **production(STATIC_ROOT=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr

    # Every asset our pages and viewflow's frame ask for is in the manifest,
    # or {% static %} would fail with DEBUG off.
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    templates = [*ROOT.glob("*/templates/**/*.html")]
    viewflow = Path(importlib.util.find_spec("viewflow").origin).parent
    templates += (viewflow / "templates/viewflow/includes").glob("*.html")
    referenced = {
        name
        for template in templates
        for name in re.findall(r"""\{% static ["']([^"'{}]+)["']""", template.read_text())
    }
    assert "gridcase/app.css" in referenced
    assert "viewflow/fonts/roboto/roboto-fontface.css" in referenced
    assert "echarts/echarts.min.js" in referenced  # from npm (package-lock.json)
    assert sorted(referenced - manifest.keys()) == []
    # Of node_modules, only the file our pages load is collected.
    assert [name for name in manifest if name.startswith("echarts/")] == ["echarts/echarts.min.js"]
    assert (tmp_path / manifest["gridcase/app.css"]).with_suffix(".css.gz").exists()


def test_the_compose_file_runs_the_timers_and_the_job_worker_beside_the_web_process():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "redis", "migrate", "web", "timers", "worker"} <= services.keys()
    for name in ("migrate", "web", "timers", "worker"):
        environment = services[name]["environment"]
        assert environment["DEBUG"] == "false"
        assert environment["TIMERS"] == "external"
        assert environment["DATABASE_URL"].startswith("postgis://")
        assert environment["REDIS_URL"].startswith("redis://")
    assert services["timers"]["command"] == ["python", "manage.py", "run_timers"]
    assert services["worker"]["command"] == ["python", "manage.py", "db_worker", "--no-reload"]
    assert "command" not in services["web"]  # the image's CMD: gunicorn
    for name in ("web", "timers", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}


def test_the_api_schema_and_docs_are_served_from_here(client, cast):
    client.force_login(cast.admin)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/cases/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in docs
    assert "cdn" not in docs.lower()


def test_a_static_file_missing_from_the_collected_set_does_not_fail_the_page(tmp_path):
    from project.storage import StaticStorage

    storage = StaticStorage(location=tmp_path, base_url="/static/")  # nothing collected here
    assert storage.url("gridcase/app.css") == "/static/gridcase/app.css"


def test_the_image_serves_with_gunicorn_and_installs_no_development_tools():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert json.loads(cmd[len("CMD") :]) == [
        "gunicorn",
        "-c",
        "project/gunicorn.conf.py",
        "project.asgi:application",
    ]
    assert "pip install -r requirements.lock" in dockerfile
    runtime = (ROOT / "requirements.lock").read_text()
    for tool in ("pytest", "playwright", "ruff", "schemathesis", "pip-tools"):
        assert f"\n{tool}==" not in runtime, tool
    assert "\ngunicorn==" in runtime and "\nuvicorn-worker==" in runtime
