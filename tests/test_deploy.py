"""What operators deploy: the image's static files, compose's health checks, /healthz."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError
from ruamel.yaml import YAML

from newsdesk import health

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def _load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


# --- Static files through the manifest, as the image builds them --------------------------------

_RENDER = r"""
import django, re, sys
django.setup()
from django.test import Client
client = Client()
page = client.get("/no-such-page/")
assert page.status_code == 404, page.status_code
html = page.content.decode()
css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
assert css, html[:1500]
assert client.get(css.group(1)).status_code == 200
login = client.get("/admin/login/").content.decode()
admin_css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', login)
assert admin_css, login[:1500]
assert client.get(admin_css.group(1)).status_code == 200
print("served", css.group(1), admin_css.group(1))
"""


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "DJANGO_"))
    }
    env.update(
        DEBUG="false",
        SECRET_KEY="collectstatic-only-not-a-secret",
        STATIC_ROOT=str(tmp_path / "static"),
        NEWSDESK_DATA_DIR=str(tmp_path / "data"),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        DJANGO_SETTINGS_MODULE="newsdesk.settings",
    )
    return env


def test_the_dockerfile_collects_static_files_with_production_settings():
    dockerfile = (ROOT / "Dockerfile").read_text()
    collect = [line for line in dockerfile.splitlines() if "collectstatic" in line]
    assert collect and all("DEBUG=false" in line for line in collect)


def test_pages_link_and_serve_static_files_through_the_strict_manifest(tmp_path):
    env = _production_env(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    assert (tmp_path / "static" / "staticfiles.json").exists()
    served = subprocess.run(
        [sys.executable, "-c", _RENDER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 0, served.stderr[-3000:]


def test_a_file_missing_from_the_manifest_is_an_error_not_a_silent_plain_link(tmp_path):
    # The setting the image runs with: strict, so a broken build fails loudly at once.
    env = _production_env(tmp_path)
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.WHITENOISE_MANIFEST_STRICT, settings.WHITENOISE_USE_FINDERS)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["True", "False"], out.stderr[-2000:]


# --- docker-compose.yml and the image's context ---------------------------------------------------


def _check_compose(path: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_compose_file_follows_the_compose_specification(tmp_path):
    assert _check_compose(COMPOSE).returncode == 0
    broken = _load(COMPOSE)
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "when_it_feels_like_it"
    bad = tmp_path / "docker-compose.yml"
    YAML(typ="safe").dump(broken, bad)
    assert _check_compose(bad).returncode != 0


def test_web_worker_and_beat_wait_for_migrations_and_have_healthchecks():
    services = _load(COMPOSE)["services"]
    assert "migrate" in services["migrate"]["command"]
    for name in ("web", "worker", "beat"):
        service = services[name]
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert service["healthcheck"]["test"], name
        assert "migrate" not in str(service.get("command"))


def test_the_env_file_stays_out_of_the_image():
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored


# --- /healthz ------------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_healthz_tells_the_public_only_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")


@pytestmark_db
def test_healthz_keeps_the_error_text_from_the_public(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise DatabaseError("connection to db.internal:5432 user newsdesk refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.content == b"unavailable\n"


@pytestmark_db
def test_healthz_gives_operators_the_details(client, django_user_model, monkeypatch):
    operator = django_user_model.objects.create_user("ops", password="pw-12345-x", is_staff=True)
    operator.groups.add(Group.objects.get_or_create(name="Operators")[0])
    client.force_login(operator)
    # The session itself is read from the database, so only the check is made to fail.
    monkeypatch.setattr(
        health, "_check_database", lambda: {"ok": False, "error": "connection refused"}
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "error": "connection refused"}


@pytestmark_db
def test_healthz_answers_on_any_host_header(client, settings):
    settings.ALLOWED_HOSTS = ["news.example.org"]
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    # Every other page still refuses a host it does not serve.
    assert client.get("/", HTTP_HOST="127.0.0.1:8000").status_code == 400
