"""The consume route's lane (credits/api.py) answers exactly as ConsumeView does, and takes
the ordinary request: the same requests, sent both ways, give the same status, headers and body."""

import json

import pytest
from django.test import Client

from credits import api
from credits.services import api_key_create
from tests.credits.helpers import add_member, give, make_org

pytestmark = pytest.mark.django_db


def _history(monkeypatch, *, lane: bool) -> list:
    """One organization's scripted requests, answered with the lane on or off."""
    if not lane:
        monkeypatch.setattr(api, "_lane_input", lambda request: None)
    org = make_org(overdraft_limit=5)
    member = add_member(org, credit_limit=4)
    give(org, 10)
    other = make_org()
    _key, owner_key = api_key_create(tenant=org, user=org.owner, name="owner")
    _key, member_key = api_key_create(tenant=org, user=member, name="member")
    url = f"/api/v1/orgs/{org.slug}/credits/consume/"
    requests = [
        (owner_key, url, {"amount": 3, "description": "first"}, {"HTTP_IDEMPOTENCY_KEY": "a"}),
        (owner_key, url, {"amount": 3, "description": "first"}, {"HTTP_IDEMPOTENCY_KEY": "a"}),  # replayed
        (owner_key, url, {"amount": 4, "description": "first"}, {"HTTP_IDEMPOTENCY_KEY": "a"}),  # conflict
        (owner_key, url, {"amount": 9, "description": "overdraft"}, {"HTTP_IDEMPOTENCY_KEY": "b"}),  # 2 on overdraft
        (owner_key, url, {"amount": 50}, {"HTTP_IDEMPOTENCY_KEY": "c"}),  # insufficient
        (member_key, url, {"amount": 5}, {"HTTP_IDEMPOTENCY_KEY": "d"}),  # over the member's limit
        (member_key, url, {"amount": 1, "description": " été "}, {"HTTP_IDEMPOTENCY_KEY": "e"}),
        (owner_key, url, {"amount": 1}, {}),  # no Idempotency-Key
        (owner_key, url, {"amount": "1"}, {"HTTP_IDEMPOTENCY_KEY": "f"}),  # the serializer decides (and takes it)
        (owner_key, url, {"amount": 0}, {"HTTP_IDEMPOTENCY_KEY": "g"}),
        (owner_key, url, {"amount": 1}, {"HTTP_IDEMPOTENCY_KEY": "h", "HTTP_ACCEPT": "text/html"}),
        (owner_key, f"/api/v1/orgs/{other.slug}/credits/consume/", {"amount": 1}, {"HTTP_IDEMPOTENCY_KEY": "i"}),
        ("keel_nope.nope", url, {"amount": 1}, {"HTTP_IDEMPOTENCY_KEY": "j"}),
    ]
    names = {str(org.owner.pk): "<owner>", str(member.pk): "<member>", org.owner.username: "<owner-name>"}
    names[member.username] = "<member-name>"
    ids: dict = {}
    answers = []
    for raw_key, path, body, headers in requests:
        response = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").post(
            path, json.dumps(body), content_type="application/json", **headers
        )
        answers.append((response.status_code, _headers(response), _anonymous(response.json(), names, ids)))
    return answers


def _headers(response) -> dict:
    return {name: value for name, value in response.headers.items() if name not in ("Content-Length", "X-Request-ID")}


def _anonymous(data, names: dict, ids: dict):
    """The body with this run's ids and names replaced by stable placeholders."""
    if isinstance(data, dict):
        return {
            key: "<time>" if key == "created_at" and isinstance(value, int) else _anonymous(value, names, ids)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_anonymous(value, names, ids) for value in data]
    if isinstance(data, str) and data in names:
        return names[data]
    if isinstance(data, str) and len(data) == 36 and data.count("-") == 4:
        return ids.setdefault(data, f"<id {len(ids)}>")
    return data


def test_the_lane_answers_every_request_as_consume_view_does(monkeypatch):
    with_lane = _history(monkeypatch, lane=True)
    without_lane = _history(monkeypatch, lane=False)

    assert [status for status, _, _ in with_lane] == [201, 201, 409, 201, 402, 403, 201, 400, 201, 400, 406, 404, 401]
    assert with_lane[1][1]["Idempotent-Replayed"] == "true"
    assert with_lane == without_lane


def test_an_ordinary_consumption_and_its_refusals_never_reach_consume_view(monkeypatch):
    def not_here(*args, **kwargs):
        raise AssertionError("ConsumeView.post was called")

    monkeypatch.setattr(api.ConsumeView, "post", not_here)
    org = make_org()
    give(org, 5)
    _key, raw_key = api_key_create(tenant=org, user=org.owner, name="lane")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    url = f"/api/v1/orgs/{org.slug}/credits/consume/"

    spent = client.post(url, {"amount": 5}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    refused = client.post(url, {"amount": 5}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k2")

    assert (spent.status_code, spent.json()["balance"]) == (201, 0)
    assert (refused.status_code, refused.json()["code"]) == (402, "insufficient_credits")
