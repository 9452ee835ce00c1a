"""/faceswaplab/v1 inside the (stub) web-ui: the routes honour the host's --api-auth exactly
like /sdapi/v1 (401 without or with wrong credentials, 200 with them), are absent when the
host runs without --api, and are exactly the routes docs/api.md documents."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.webui_host import setup_host

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def started(tmp_path, models_dir, monkeypatch):
    """Start the stub host's app with the given cmd_opts; returns a TestClient."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    monkeypatch.delenv("FACESWAPLAB_MODELS", raising=False)
    setup_host(tmp_path / "webui", models_dir)
    from modules import script_callbacks, shared

    saved = dict(vars(shared.cmd_opts))
    clients = []

    def start(**cmd_opts):
        vars(shared.cmd_opts).update(cmd_opts)
        app = FastAPI()
        script_callbacks.app_started_callback(None, app)
        c = TestClient(app, raise_server_exceptions=False)
        clients.append(c)
        return c

    yield start
    vars(shared.cmd_opts).clear()
    vars(shared.cmd_opts).update(saved)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def documented_routes() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## (GET|POST) (/faceswaplab/v1/\S+)", text, flags=re.M))


def served_routes(client) -> set[tuple[str, str]]:
    """From the app's OpenAPI schema (FastAPI's route objects differ between releases)."""
    paths = client.app.openapi().get("paths", {})
    return {(m.upper(), p) for p, ops in paths.items() if p.startswith("/faceswaplab/") for m in ops}


def test_routes_need_the_hosts_credentials(started):
    c = started(api=True, api_auth="alice:s3cret:with:colons,bob:hunter2")
    routes = served_routes(c)
    assert routes == documented_routes() and len(routes) == 8  # models added (issue 13)
    for method, path in sorted(routes):
        r = c.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers.get("www-authenticate") == "Basic"
        assert c.request(method, path, json={}, headers=basic("alice", "wrong")).status_code == 401
        assert c.request(method, path, json={}, headers=basic("mallory", "hunter2")).status_code == 401
    ok = c.get("/faceswaplab/v1/version", headers=basic("alice", "s3cret:with:colons"))
    assert ok.status_code == 200 and ok.json()["api"] == 1
    assert c.get("/faceswaplab/v1/checkpoints", headers=basic("bob", "hunter2")).status_code == 200
    # with credentials the request reaches validation (422 for an empty body), not 401
    assert c.post("/faceswaplab/v1/swap", json={}, headers=basic("bob", "hunter2")).status_code == 422


def test_routes_open_without_api_auth(started):
    c = started(api=True, api_auth=None)
    assert c.get("/faceswaplab/v1/version").status_code == 200
    assert served_routes(c) == documented_routes()


def test_no_routes_without_api(started, capsys):
    c = started(api=False, nowebui=False, api_auth="a:b")
    assert served_routes(c) == set()
    assert c.get("/faceswaplab/v1/version").status_code == 404
    assert "without --api" in capsys.readouterr().out


def test_nowebui_serves_the_api(started):
    c = started(api=False, nowebui=True, api_auth="a:b")
    assert c.get("/faceswaplab/v1/version").status_code == 401
    assert c.get("/faceswaplab/v1/version", headers=basic("a", "b")).status_code == 200


def test_malformed_api_auth_fails_closed(started, capsys):
    c = started(api=True, api_auth="no-colon-here")
    assert served_routes(c) == set()
    assert "not added" in capsys.readouterr().out


def test_credential_check_is_exact():
    from faceswaplab.api.auth import check, parse_credentials

    creds = parse_credentials("u:p, v:p:q")
    assert creds == {"u": "p", "v": "p:q"}
    assert check(creds, "u", "p") and check(creds, "v", "p:q")
    assert not check(creds, "u", "p:q") and not check(creds, "v", "p") and not check(creds, "", "")
    assert not check(creds, "u", "P") and not check(creds, "U", "p")
