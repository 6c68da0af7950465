"""The admin canvas preview over real HTTP: access control, input errors and rendering."""

from __future__ import annotations

from tests.conftest import INTERCOM_FIXTURES, TEST_WORKSPACE_ID

ADMIN_PASSWORD = "correct horse battery staple"
CONTACT_ID = "66b0f1a2c3d4e5f601234567"


async def start_production(start_server, public_url: str = ""):
    """Start a production-mode server; PUBLIC_URL defaults to its own loopback URL."""
    from tests.conftest import free_port

    port = free_port()
    return await start_server(
        APP_ENV="production",
        PORT=port,
        PUBLIC_URL=public_url or f"http://127.0.0.1:{port}",
        ADMIN_PASSWORD=ADMIN_PASSWORD,
    )


async def test_development_preview_is_open(live_server):
    response = await live_server.client.get("/admin/canvas-preview")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="run-form"' in response.text
    assert response.headers["x-frame-options"] == "DENY"


async def test_open_admin_rejects_other_hosts(live_server):
    response = await live_server.client.get("/admin/canvas-preview", headers={"Host": "rebound.example.com"})

    assert response.status_code == 403
    assert "'rebound.example.com'" in response.json()["error"]
    assert "set ADMIN_PASSWORD" in response.json()["error"]


async def test_open_admin_accepts_localhost(live_server):
    port = live_server.settings.PORT

    response = await live_server.client.get("/admin/canvas-preview", headers={"Host": f"localhost:{port}"})

    assert response.status_code == 200


async def test_production_preview_redirects_to_login(start_server):
    server = await start_production(start_server)

    response = await server.client.get("/admin/canvas-preview")

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/canvas-preview"


async def test_production_api_without_session_401(start_server):
    server = await start_production(start_server)

    response = await server.client.post("/admin/canvas-preview/render", json={"json": "{}"})

    assert response.status_code == 401
    assert "log in at /admin/login" in response.json()["error"]


async def test_login_wrong_password_401(start_server):
    server = await start_production(start_server)

    response = await server.client.post("/admin/login", data={"password": "guess", "next": "/admin/canvas-preview"})

    assert response.status_code == 401
    assert "Wrong password" in response.text
    assert "admin_session" not in response.headers.get("set-cookie", "")


async def test_login_sets_restricted_cookie(start_server):
    server = await start_production(start_server)

    response = await server.client.post("/admin/login", data={"password": ADMIN_PASSWORD, "next": "/admin/canvas-preview"})

    assert response.status_code == 303
    assert response.headers["location"] == "/admin/canvas-preview"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/admin" in cookie
    assert "secure" not in cookie

    page = await server.client.get("/admin/canvas-preview")
    assert page.status_code == 200


async def test_login_cookie_secure_over_https(start_server):
    server = await start_production(start_server, public_url="https://app.example.com")

    response = await server.client.post("/admin/login", data={"password": ADMIN_PASSWORD})

    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


async def test_tampered_session_cookie_rejected(start_server):
    server = await start_production(start_server)
    await server.client.post("/admin/login", data={"password": ADMIN_PASSWORD})
    cookie = server.client.cookies.get("admin_session")
    server.client.cookies.clear()

    server.client.cookies.set("admin_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    response = await server.client.get("/admin/canvas-preview")

    assert response.status_code == 303


async def test_login_next_rejects_other_hosts(start_server):
    server = await start_production(start_server)

    for target in ("//evil.example.com/", "https://evil.example.com/", "/\\evil.example.com", "/intercom/x"):
        response = await server.client.post("/admin/login", data={"password": ADMIN_PASSWORD, "next": target})
        assert response.headers["location"] == "/admin/canvas-preview", target


async def test_render_pasted_canvas_json(live_server):
    text = (INTERCOM_FIXTURES / "canvas.messenger.error.response.json").read_text()

    response = await live_server.client.post("/admin/canvas-preview/render", json={"json": text})

    assert response.status_code == 200
    body = response.json()
    assert 'data-type="textarea"' in body["columns_html"]
    assert "state-failed" in body["columns_html"]
    assert body["stored_data"] == 'stored_data: {"carrier": "sample_express"}'


async def test_render_invalid_json_400(live_server):
    response = await live_server.client.post("/admin/canvas-preview/render", json={"json": "{not json"})

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


async def test_render_non_canvas_400(live_server):
    response = await live_server.client.post("/admin/canvas-preview/render", json={"json": '{"a": 1}'})

    assert response.status_code == 400
    assert "contains no canvas" in response.json()["error"]


async def test_form_body_rejected_415(live_server):
    response = await live_server.client.post("/admin/canvas-preview/run", data={"kind": "live"})

    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


async def test_run_unknown_kind_400(live_server):
    body = {"kind": "inbox-open", "app": "default", "workspace_id": TEST_WORKSPACE_ID, "contact_id": CONTACT_ID}

    response = await live_server.client.post("/admin/canvas-preview/run", json=body)

    assert response.status_code == 400
    assert "kind" in response.json()["error"]


async def test_run_unknown_app_404(live_server):
    body = {"kind": "live", "app": "nope", "workspace_id": TEST_WORKSPACE_ID, "contact_id": CONTACT_ID}

    response = await live_server.client.post("/admin/canvas-preview/run", json=body)

    assert response.status_code == 404
    assert "'nope' is not registered" in response.json()["error"]


async def test_submit_missing_state_400(live_server):
    response = await live_server.client.post("/admin/canvas-preview/submit", json={"component_id": "b1"})

    assert response.status_code == 400
    assert "state" in response.json()["error"]


async def test_live_without_live_canvas_400(live_server):
    state = {"app": "default", "workspace_id": TEST_WORKSPACE_ID, "contact_id": CONTACT_ID, "surface": "inbox"}

    response = await live_server.client.post("/admin/canvas-preview/live", json={"state": state})

    assert response.status_code == 400
    assert "no live canvas yet" in response.json()["error"]
