"""Save a PNG of every built-in canvas view under docs/images/, taken in the admin preview.

Run with `.venv/bin/python -m tests.screenshots [OUTPUT_DIR]`. It starts an embedded MongoDB
and the service on loopback, seeds one customer's projected tickets, conversations and
activity, clicks through the Inbox and Messenger flows in headless Chromium and screenshots
the canvas columns. The browser tests reuse the helpers here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM_PATH = Path("/usr/bin/chromium")
# Debian's Chromium in headless mode, with the background services that contact outside hosts turned off.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
VIEWPORT = {"width": 840, "height": 1000}

WORKSPACE_ID = "ws7k2p9q"
CUSTOMER_ID = "66b0f1a2c3d4e5f601234567"
EMPTY_CUSTOMER_ID = "66b0f1a2c3d4e5f6ffffffff"
REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOGUE_FIXTURE = REPO_ROOT.parent / "shared" / "fixtures" / "intercom" / "canvas.components.all.response.json"


@dataclass
class BrowserSession:
    """One page in headless Chromium that may only reach loopback addresses."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def open_browser() -> AsyncIterator[BrowserSession]:
    """Launch Chromium; abort and record every request to a host other than loopback."""
    async with async_playwright() as playwright:
        browser: Browser = await playwright.chromium.launch(executable_path=str(CHROMIUM_PATH), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=VIEWPORT)
            page = await context.new_page()
            session = BrowserSession(page)

            async def guard(route) -> None:
                url = route.request.url
                if url.startswith(("data:", "about:", "file:")) or urlsplit(url).hostname in LOOPBACK_HOSTS:
                    await route.continue_()
                else:
                    session.blocked.append(url)
                    await route.abort()

            await context.route("**/*", guard)
            page.on("pageerror", lambda error: session.errors.append(str(error)))
            yield session
        finally:
            await browser.close()


async def seed_customer_activity(database, app: str = "default", workspace_id: str = WORKSPACE_ID) -> None:
    """Insert one customer's projected documents, shaped as in webhooks.readmodel."""
    now = datetime.now(UTC)
    scope = {"app": app, "workspace_id": workspace_id}

    tickets = [
        ("638", "38", "Checkout button unresponsive", "in_progress", "In progress: engineering", "In progress",
         "Customer", timedelta(hours=2), "The checkout button does nothing on Firefox 140."),
        ("641", "41", "Refund for order #4821", "waiting_on_customer", "Waiting on customer",
         "Awaiting your reply", "Customer", timedelta(days=1), "Customer asked for a refund."),
        ("702", "52", "Payment gateway timeouts", "submitted", "Submitted to payments team", "Submitted",
         "Back-office", timedelta(hours=5), "Internal investigation; never shown to the customer."),
        ("590", "29", "Invoice address change", "resolved", "Resolved", "Resolved", "Customer",
         timedelta(days=10), "Address updated."),
    ]
    await database.tickets.insert_many([
        {
            **scope,
            "ticket_id": ticket_id,
            "ticket_number": number,
            "title": title,
            "description": description,
            "category": category,
            "ticket_type": "Bug report" if number == "38" else "Request",
            "state": state,
            "state_internal_label": internal,
            "state_external_label": external,
            "open": state != "resolved",
            "contact_ids": [CUSTOMER_ID],
            "created_at": now - age - timedelta(days=2),
            "updated_at": now - age,
        }
        for ticket_id, number, title, state, internal, external, category, age, description in tickets
    ])
    await database.conversations.insert_one({
        **scope,
        "conversation_id": "215470011223344",
        "title": "Order has not arrived",
        "state": "closed",
        "open": False,
        "contact_ids": [CUSTOMER_ID],
        "rating": 5,
        "rating_remark": "Quick and helpful",
        "last_message": "Thanks, it arrived today!",
        "created_at": now - timedelta(days=3),
        "updated_at": now - timedelta(hours=20),
    })
    await database.contacts.insert_one({
        **scope,
        "contact_id": CUSTOMER_ID,
        "role": "user",
        "name": "Riley Example",
        "email": "riley@example.com",
        "external_id": "cust-10042",
        "tags": ["vip"],
        "created_at": now - timedelta(days=30),
        "updated_at": now - timedelta(days=1),
    })
    await database.activity.insert_many([
        {**scope, "contact_id": CUSTOMER_ID, "notification_id": f"notif_{index}", "topic": topic,
         "occurred_at": now - age, "summary": summary, "subject_type": subject_type, "subject_id": subject_id}
        for index, (topic, age, summary, subject_type, subject_id) in enumerate([
            ("ticket.state.updated", timedelta(hours=2), "Ticket #38 moved to In progress", "ticket", "638"),
            ("conversation.rating.added", timedelta(hours=20), "Rated a conversation 5 stars", "conversation",
             "215470011223344"),
            ("ticket.created", timedelta(days=1), "Ticket #41 created", "ticket", "641"),
        ])
    ])


class PreviewDriver:
    """Drive the admin canvas preview: pick a request kind, click in the canvas, wait for the reply."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    async def open(self) -> None:
        """Load the preview page."""
        await self.page.goto(self.base_url + "/admin/canvas-preview")

    async def run(self, kind: str, contact_id: str = CUSTOMER_ID, workspace_id: str = WORKSPACE_ID) -> None:
        """Start a flow of `kind` for the contact and wait for the canvas."""
        await self.page.select_option("#run-form select[name=kind]", kind)
        await self.page.fill("#run-form input[name=workspace_id]", workspace_id)
        await self.page.fill("#run-form input[name=contact_id]", contact_id)
        await self._await_reply(self.page.click("#run"))

    async def click(self, text: str, column: str = "messenger") -> None:
        """Click the clickable element showing `text` in one column and wait for the reply."""
        target = self.page.locator(f".column-{column} .canvas [data-action]", has_text=text).first
        await self._await_reply(target.click())

    async def open_live(self) -> None:
        """Press Show live card and wait for the live content."""
        await self._await_reply(self.page.click("#open-live"))

    def column(self, name: str):
        """Return the locator of one column's canvas."""
        return self.page.locator(f".column-{name} .canvas")

    async def _await_reply(self, action) -> None:
        async with self.page.expect_response(lambda response: "/admin/canvas-preview/" in response.url):
            await action
        await self.page.wait_for_function("document.body.dataset.busy === 'false'")


async def save_screenshots(output_dir: Path) -> list[Path]:
    """Start a seeded service, click through every built-in view and save one PNG per view.

    Also saves the whole preview page and the components catalogue.
    """
    from app.embedded_db import EmbeddedMongo
    from tests.conftest import TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY, free_port

    output_dir.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as scratch, EmbeddedMongo(Path(scratch) / "mongo") as mongo:
        port = free_port()
        async with _serve(mongo.uri, Path(scratch), port, TEST_CLIENT_SECRET, TEST_ENCRYPTION_KEY) as services:
            await seed_customer_activity(services.database)
            async with open_browser() as session:
                driver = PreviewDriver(session.page, f"http://127.0.0.1:{port}")
                await driver.open()
                for name, steps in _VIEWS:
                    await steps(driver)
                    path = output_dir / f"{name}.png"
                    await session.page.locator("#columns").screenshot(path=str(path))
                    saved.append(path)
                saved.append(await _page_screenshot(driver, output_dir))
                saved.append(await _catalogue_screenshot(session.page, output_dir))
                if session.blocked or session.errors:
                    raise RuntimeError(f"the page tried to leave loopback {session.blocked} or raised {session.errors}")
    return saved


async def _inbox_list(driver: PreviewDriver) -> None:
    await driver.run("inbox-initialize")


async def _inbox_ticket(driver: PreviewDriver) -> None:
    await driver.click("Checkout button unresponsive", column="inbox")


async def _inbox_empty(driver: PreviewDriver) -> None:
    await driver.run("inbox-initialize", contact_id=EMPTY_CUSTOMER_ID)


async def _messenger_configure(driver: PreviewDriver) -> None:
    await driver.run("messenger-configure")


async def _messenger_tickets(driver: PreviewDriver) -> None:
    await driver.click("Save")
    await driver.click("Show my tickets")


async def _messenger_ticket(driver: PreviewDriver) -> None:
    await driver.click("Checkout button unresponsive")


async def _live_card(driver: PreviewDriver) -> None:
    await driver.open_live()


_VIEWS = [
    ("inbox-list", _inbox_list),
    ("inbox-ticket-detail", _inbox_ticket),
    ("inbox-empty", _inbox_empty),
    ("messenger-configure", _messenger_configure),
    ("messenger-tickets", _messenger_tickets),
    ("messenger-ticket-detail", _messenger_ticket),
    ("live-card", _live_card),
]


async def _page_screenshot(driver: PreviewDriver, output_dir: Path) -> Path:
    """Save the whole admin page after a configure submit, with its controls and notes."""
    await driver.run("messenger-configure")
    await driver.click("Save")
    path = output_dir / "preview-page.png"
    await driver.page.screenshot(path=str(path))
    return path


async def _catalogue_screenshot(page: Page, output_dir: Path) -> Path:
    from canvas.preview import render_page

    html_path = output_dir / "components-catalogue.html"
    document = json.loads(CATALOGUE_FIXTURE.read_bytes())
    html_path.write_text(render_page(document, title="Canvas Kit components"), encoding="utf-8")
    try:
        await page.goto(html_path.as_uri())
        path = output_dir / "components-catalogue.png"
        await page.locator("#columns").screenshot(path=str(path))
    finally:
        html_path.unlink()
    return path


@contextlib.asynccontextmanager
async def _serve(mongo_uri: str, data_dir: Path, port: int, secret: str, encryption_key: str):
    from app.factory import create_app
    from app.server import serve_app
    from app.settings import load_settings
    from tests.conftest import _wait_until_serving

    settings = load_settings(
        APP_ENV="development", MONGODB_URI=mongo_uri, MONGODB_DATABASE="screenshots", DATA_DIR=data_dir,
        INTERCOM_CLIENT_ID="screenshots", INTERCOM_CLIENT_SECRET=secret, TOKEN_ENCRYPTION_KEYS=[encryption_key],
        HOST="127.0.0.1", PORT=port, LOG_LEVEL="WARNING",
    )
    app = create_app(settings, mongo_uri=mongo_uri)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_app(app, settings.HOST, settings.PORT, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            await _wait_until_serving(client, task)
        yield app.extensions["intercom"]
    finally:
        stop.set()
        await task


def main() -> None:
    """Write the screenshots to the directory given as the first argument (default docs/images)."""
    output_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "docs" / "images"
    if not CHROMIUM_PATH.exists():
        sys.exit(f"{CHROMIUM_PATH} is missing: install it with `make browser` (apt-get install chromium)")
    for path in asyncio.run(save_screenshots(output_dir)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
