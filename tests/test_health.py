import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_user("operator", password="pw-12345-x")
    user.groups.add(Group.objects.get_or_create(name="Operators")[0])
    client.force_login(user)
    return client


def test_healthz_reports_database_and_broker_to_operators(operator_client):
    response = operator_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_healthz_answers_503_when_the_broker_is_unreachable(operator_client, client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = operator_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_a_signed_in_editor_is_not_an_operator(client, django_user_model):
    editor = django_user_model.objects.create_user("editor", password="pw-12345-x", is_staff=True)
    editor.groups.add(Group.objects.get_or_create(name="Editors")[0])
    client.force_login(editor)
    assert client.get("/healthz").content == b"ok\n"
