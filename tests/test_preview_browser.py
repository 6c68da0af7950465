"""The canvas preview in headless Chromium: every component, escaping and the admin login.

Uses Debian's /usr/bin/chromium (installed by `make browser`) through Playwright. The page
may reach loopback addresses only; any other request is aborted and fails the test.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import pytest_asyncio

from canvas.preview import render_page
from tests.conftest import INTERCOM_FIXTURES, free_port
from tests.screenshots import (
    CHROMIUM_PATH,
    CUSTOMER_ID,
    EMPTY_CUSTOMER_ID,
    PreviewDriver,
    open_browser,
    seed_customer_activity,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM_PATH.exists(),
    reason=f"{CHROMIUM_PATH} is missing: run `make browser` (apt-get install chromium) to run the browser tests",
)

# Tests without a live server share one Chromium per module, because starting Playwright's
# driver and the browser takes about 1.5 s (measured on a 2-core machine). Tests with a live server use
# their own browser, because the server runs in the test's own event loop.
in_module_loop = pytest.mark.asyncio(loop_scope="module")

CATALOGUE = json.loads((INTERCOM_FIXTURES / "canvas.components.all.response.json").read_bytes())
ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture
async def browser():
    """A Chromium page limited to loopback; the test fails on any other request or page error."""
    async with open_browser() as session:
        yield session
        assert session.blocked == [], "the page tried to reach hosts other than loopback"
        assert session.errors == [], "the page raised JavaScript errors"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_browser():
    """One loopback-only Chromium page for the module's tests that need no server."""
    async with open_browser() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="module")
async def static_page(shared_browser):
    """The shared page, checked after each test for requests off loopback and page errors."""
    yield shared_browser.page
    assert shared_browser.blocked == [], "the page tried to reach hosts other than loopback"
    assert shared_browser.errors == [], "the page raised JavaScript errors"


@pytest_asyncio.fixture(loop_scope="module")
async def catalogue_page(static_page, tmp_path):
    """The components catalogue fixture rendered to a file and opened in the browser."""
    path = tmp_path / "catalogue.html"
    path.write_text(render_page(CATALOGUE, title="Catalogue"), encoding="utf-8")
    await static_page.goto(path.as_uri())
    return static_page


@in_module_loop
async def test_catalogue_renders_every_component(catalogue_page):
    expected = Counter(component["type"] for component in CATALOGUE["canvas"]["content"]["components"])

    for column in ("inbox", "messenger"):
        for kind, count in expected.items():
            rendered = await catalogue_page.locator(f".column-{column} .canvas > [data-type='{kind}']").count()
            assert rendered == count, f"{column}: {kind}"
    assert await catalogue_page.locator("[data-type=invalid]").count() == 0


@in_module_loop
async def test_catalogue_column_widths(catalogue_page):
    inbox = await catalogue_page.locator(".column-inbox").bounding_box()
    messenger = await catalogue_page.locator(".column-messenger").bounding_box()

    assert inbox["width"] == 336
    assert messenger["width"] == 376
    assert messenger["x"] > inbox["x"] + inbox["width"]


@in_module_loop
async def test_catalogue_text_styles_and_alignments(catalogue_page):
    def style_of(component_id: str, prop: str) -> str:
        return catalogue_page.eval_on_selector(
            f".column-inbox [data-component-id='{component_id}'] p",
            f"element => getComputedStyle(element)['{prop}']",
        )

    assert await style_of("t1", "fontWeight") == "700"
    assert await style_of("t3", "textAlign") == "center"
    assert await style_of("t3", "color") == "rgb(115, 115, 118)"
    assert await style_of("t4", "textAlign") == "right"
    assert await style_of("t4", "color") == "rgb(212, 53, 28)"
    link = catalogue_page.locator(".column-inbox [data-component-id='t2'] a")
    assert await link.get_attribute("href") == "https://www.example.com"
    assert await catalogue_page.locator(".column-inbox [data-component-id='t2'] strong").inner_text() == "bold"


@in_module_loop
async def test_catalogue_margins_and_spacers(catalogue_page):
    async def px(selector: str, prop: str) -> str:
        return await catalogue_page.eval_on_selector(selector, f"element => getComputedStyle(element)['{prop}']")

    assert await px(".column-inbox [data-component-id='t1']", "marginBottom") == "10px"
    assert await px(".column-inbox [data-component-id='t3']", "marginBottom") == "0px"
    assert await px(".column-inbox [data-component-id='s1'] .spacer", "height") == "4px"
    assert await px(".column-inbox [data-component-id='s2'] .spacer", "height") == "32px"


@in_module_loop
async def test_catalogue_image_keeps_aspect_ratio(catalogue_page):
    box = await catalogue_page.locator(".column-messenger [data-component-id='img'] .image-box").bounding_box()

    assert box["width"] / box["height"] == pytest.approx(3.0, rel=0.02)
    link = catalogue_page.locator(".column-messenger [data-component-id='img'] a.image-link")
    assert await link.get_attribute("href") == "https://www.example.com"


@in_module_loop
async def test_catalogue_buttons_and_inputs(catalogue_page):
    column = ".column-inbox"

    assert await catalogue_page.locator(f"{column} [data-component-id='b1'].btn-primary").count() == 1
    assert await catalogue_page.locator(f"{column} a.btn-secondary[data-action='url']").count() == 1
    assert await catalogue_page.locator(f"{column} button.btn-link[data-action='sheet']").count() == 1
    assert await catalogue_page.locator(f"{column} button[data-component-id='b4']").is_disabled()
    assert await catalogue_page.locator(f"{column} select option[value='b']").is_disabled()
    assert await catalogue_page.locator(f"{column} input[type=checkbox][data-input-id='cb1']").count() == 2
    assert await catalogue_page.locator(f"{column} .ss-option").count() == 2
    assert await catalogue_page.get_attribute(f"{column} input[data-input-id='in1']", "placeholder") == "type here"


@in_module_loop
async def test_static_submit_reports_values(catalogue_page):
    await catalogue_page.fill(".column-inbox input[data-input-id='in1']", "hello")
    await catalogue_page.check(".column-inbox input[data-input-id='cb1'][value='c2']")

    await catalogue_page.click(".column-inbox [data-component-id='b1']")

    note = await catalogue_page.locator("#notes .note").last.inner_text()
    assert "component_id=b1" in note
    assert '"in1":"hello"' in note
    assert '"cb1":["c2"]' in note
    assert '"dd1":"a"' in note


@in_module_loop
async def test_static_sheet_action_shows_note(catalogue_page):
    await catalogue_page.click(".column-messenger [data-component-id='b3']")

    note = await catalogue_page.locator("#notes .note").last.inner_text()
    assert note.startswith("Sheet action")
    assert "https://app.example.com/intercom/sheets/demo" in note


async def open_document(page, tmp_path, document) -> None:
    """Render `document` to a file in tmp_path and open it in `page`."""
    path = tmp_path / "canvas.html"
    path.write_text(render_page(document), encoding="utf-8")
    await page.goto(path.as_uri())


def fixture_document(name: str):
    """Return a shared Intercom fixture, parsed."""
    return json.loads((INTERCOM_FIXTURES / name).read_bytes())


@in_module_loop
async def test_input_error_states_render(static_page, tmp_path):
    await open_document(static_page, tmp_path, fixture_document("canvas.messenger.error.response.json"))
    column = ".column-messenger"

    failed = static_page.locator(f"{column} .input-field.state-failed")
    assert await failed.count() == 1
    assert await failed.evaluate("element => getComputedStyle(element).borderTopColor") == "rgb(212, 53, 28)"
    assert await static_page.locator(f"{column} input[data-input-id=email]").input_value() == "riley@"
    textarea = static_page.locator(f"{column} textarea.error[data-input-id=note]")
    assert await textarea.evaluate("element => getComputedStyle(element).borderTopColor") == "rgb(212, 53, 28)"
    assert await static_page.locator(f"{column} .text-error").inner_text() == "That email address doesn't look right."


@in_module_loop
async def test_saved_input_is_disabled(static_page, tmp_path):
    await open_document(static_page, tmp_path, fixture_document("canvas.inbox.submit.response.json"))

    saved = static_page.locator(".column-inbox input[data-input-id=order_number]")
    assert await saved.is_disabled()
    assert await saved.input_value() == "4821"
    assert await static_page.locator(".column-inbox .input-field.state-saved .state-mark").inner_text() == "✓"


@in_module_loop
async def test_list_images_and_tertiary_text(static_page, tmp_path):
    await open_document(static_page, tmp_path, fixture_document("canvas.live.response.json"))
    items = static_page.locator(".column-messenger .list .item")

    assert await items.count() == 2
    image = items.nth(0).locator(".item-image.rounded")
    box = await image.bounding_box()
    assert (box["width"], box["height"]) == (48, 48)
    assert await image.get_attribute("data-url") == "https://static.example.com/img/truck-48.png"
    assert await items.nth(0).locator(".item-secondary").inner_text() == "Dublin depot • 09:12"
    assert await items.nth(1).locator(".item-image").count() == 0
    assert await items.locator("[data-action]").count() == 0


@in_module_loop
async def test_disabled_list_items_not_clickable(static_page, tmp_path):
    submit = {"type": "submit"}
    document = {"content": {"components": [
        {"type": "list", "items": [
            {"type": "item", "id": "on", "title": "Enabled", "action": submit},
            {"type": "item", "id": "off", "title": "Disabled", "disabled": True, "action": submit},
        ]},
        {"type": "list", "disabled": True, "items": [{"type": "item", "id": "all", "title": "List off", "action": submit}]},
    ]}}
    await open_document(static_page, tmp_path, document)
    column = ".column-inbox"

    assert await static_page.locator(f"{column} button[data-component-id=on]").count() == 1
    assert await static_page.locator(f"{column} [data-component-id=off][data-action]").count() == 0
    assert await static_page.locator(f"{column} [data-component-id=all][data-action]").count() == 0
    assert await static_page.locator(f"{column} .list.disabled").count() == 1


@in_module_loop
async def test_full_width_image_fills_card(static_page, tmp_path):
    await open_document(static_page, tmp_path, fixture_document("canvas.messenger.initialize.response.json"))

    for column in ("inbox", "messenger"):
        frame = await static_page.locator(f".column-{column} .frame").bounding_box()
        image = await static_page.locator(f".column-{column} .image-box.align-full_width.rounded").bounding_box()
        assert image["width"] == pytest.approx(frame["width"], abs=1), column
        assert image["width"] / image["height"] == pytest.approx(2.0, rel=0.02), column


@in_module_loop
async def test_inline_input_action_submits(static_page, tmp_path):
    await open_document(static_page, tmp_path, fixture_document("canvas.messenger.initialize.response.json"))
    column = ".column-messenger"
    await static_page.fill(f"{column} input[data-input-id=email]", "riley@example.com")

    await static_page.click(f"{column} .inline-action[data-component-id=email]")

    note = await static_page.locator("#notes .note").last.inner_text()
    assert "component_id=email" in note
    assert '"email":"riley@example.com"' in note
    assert '"frequency":"daily"' in note


@in_module_loop
async def test_text_script_stays_text(static_page, tmp_path):
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    document = {"content": {"components": [
        {"type": "text", "id": "t", "text": hostile},
        {"type": "button", "id": "b", "label": '"><script>window.__pwned = 3</script>', "action": {"type": "submit"}},
        {"type": "list", "items": [{"type": "item", "id": "i", "title": "<b>bold?</b>",
                                    "action": {"type": "url", "url": "javascript:window.__pwned = 4"}}]},
        {"type": "text", "id": "link", "text": "[click](javascript:window.__pwned=5)"},
    ]}}
    path = tmp_path / "hostile.html"
    path.write_text(render_page(document), encoding="utf-8")

    await static_page.goto(path.as_uri())
    await static_page.click(".column-inbox [data-component-id='b']")

    assert await static_page.evaluate("window.__pwned") is None
    assert await static_page.locator(".column-inbox [data-component-id='t'] p").inner_text() == hostile
    assert await static_page.locator(".column-inbox .item-title").inner_text() == "<b>bold?</b>"
    assert await static_page.locator("a[href^='javascript']").count() == 0
    assert await static_page.locator(".canvas img, .canvas script").count() == 0


async def test_production_preview_requires_password(browser, start_server):
    port = free_port()
    server = await start_server(APP_ENV="production", PORT=port, PUBLIC_URL=f"http://127.0.0.1:{port}",
                                ADMIN_PASSWORD=ADMIN_PASSWORD)
    page = browser.page

    await page.goto(server.url + "/admin/canvas-preview")
    assert "/admin/login" in page.url
    assert await page.locator("#run-form").count() == 0

    await page.fill("input[name=password]", "wrong")
    await page.click("button[type=submit]")
    assert "Wrong password" in await page.inner_text("body")

    await page.fill("input[name=password]", ADMIN_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(server.url + "/admin/canvas-preview")
    assert await page.locator("#run-form").count() == 1
