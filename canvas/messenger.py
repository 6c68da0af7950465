"""The built-in Messenger views, which show a customer the state of their own tickets.

A teammate configures the card (open tickets only or all, and how many); the settings come
back as `card_creation_options` and ride along in `stored_data`. Intercom builds the card
once for every recipient, so initialize returns a live canvas whose `content_url` renders
each viewer's own tickets on every view. The viewer is always the signed body's
`user`/`contact` and the workspace the signed `workspace_id`; a ticket id from a
`component_id` is shown only when that ticket lists the viewer among its contacts. Customers
see Intercom's external state labels, never internal labels or ticket descriptions, and
never back-office or tracker tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from canvas.actions import SubmitAction
from canvas.components import (
    ButtonComponent,
    Canvas,
    Content,
    DataTableComponent,
    DataTableItem,
    InputComponent,
    ListComponent,
    SingleSelectComponent,
    Option,
    TextComponent,
)
from canvas.limits import showing_note
from canvas.relative_time import describe_age
from canvas.requests import (
    LiveCanvasRequest,
    MessengerConfigureRequest,
    MessengerInitializeRequest,
    MessengerSubmitRequest,
    MessengerSubmitSheetRequest,
)
from canvas.responses import ConfigureResults, SubmitResponse
from canvas.ticket_text import TICKET_PREFIX, ticket_item, ticket_state, ticket_title
from canvas.views import ViewContext, default_views

__all__ = ["CardSettings", "parse_settings"]

MIN_TICKETS = 1
MAX_TICKETS = 20
DEFAULT_TICKETS = 5
# Ticket categories that Intercom's own Messenger hides from customers.
HIDDEN_CATEGORIES = frozenset({"Back-office", "Tracker"})
# Extra tickets read so that hidden categories do not leave the card short.
READ_AHEAD = 20


@dataclass(frozen=True)
class CardSettings:
    """The teammate's configure choices: open tickets only or all, and how many."""

    open_only: bool = True
    limit: int = DEFAULT_TICKETS

    def to_json(self) -> dict[str, Any]:
        """Return the settings as configure `results` and `stored_data`."""
        return {"show": "open" if self.open_only else "all", "limit": self.limit}


def parse_settings(values: dict[str, Any]) -> tuple[CardSettings, dict[str, str]]:
    """Read `show` and `limit` from configure input or stored data; return settings and errors by field."""
    errors: dict[str, str] = {}
    show = values.get("show", "open")
    if show not in ("open", "all"):
        errors["show"] = "Choose which tickets the card shows."
        show = "open"

    raw_limit = values.get("limit", DEFAULT_TICKETS)
    try:
        limit = int(str(raw_limit).strip())
    except ValueError:
        limit = DEFAULT_TICKETS
        errors["limit"] = f"Enter a whole number from {MIN_TICKETS} to {MAX_TICKETS}."
    else:
        if not MIN_TICKETS <= limit <= MAX_TICKETS:
            errors["limit"] = f"Enter a whole number from {MIN_TICKETS} to {MAX_TICKETS}; {limit} is out of range."
            limit = min(max(limit, MIN_TICKETS), MAX_TICKETS)
    return CardSettings(open_only=show == "open", limit=limit), errors


@default_views.view("messenger.configure")
async def configure_form(request: MessengerConfigureRequest, context: ViewContext) -> list:
    """Show the card settings form, with the previous input when the form is redrawn."""
    return _form(request.input_values, {})


@default_views.view("messenger.configure", component_id="save")
async def configure_save(request: MessengerConfigureRequest, context: ViewContext):
    """Check the form; finish with `results` or show the errors next to their fields."""
    settings, errors = parse_settings(request.input_values)
    if errors:
        return _form(request.input_values, errors)
    return ConfigureResults(results=settings.to_json())


@default_views.view("messenger.initialize")
async def initialize_card(request: MessengerInitializeRequest, context: ViewContext) -> Canvas:
    """Return the card: a live canvas that shows each viewer their own tickets."""
    settings, _ = parse_settings(request.card_creation_options)
    viewer_id = None
    for person in (request.user, request.contact):
        if person is not None and person.id:
            viewer_id = person.id
            break
    if viewer_id:
        components = await _ticket_list(request.workspace_id, viewer_id, settings, context)
    else:
        components = [
            TextComponent(text="Your tickets", style="header"),
            TextComponent(text="Your latest tickets appear here.", style="muted"),
            ButtonComponent(id="refresh", label="Show my tickets", action=SubmitAction()),
        ]
    live_url = f"{context.services.settings.public_url}/intercom/{context.app}/canvas/messenger/live"
    # NOTE: the card carries `content` because the 2.11 schema requires it, and `content_url` so
    # that it stays current. The docs describe one or the other, and which one Intercom prefers
    # when both are set is not documented.
    return Canvas(content=Content(components=components), content_url=live_url, stored_data=settings.to_json())


@default_views.view("messenger.live")
async def live_card(request: LiveCanvasRequest, context: ViewContext) -> list:
    """Show the viewer's own tickets on every view of the card."""
    settings, _ = parse_settings(request.stored_data)
    return await _ticket_list(request.workspace_id, request.viewer_id(), settings, context)


@default_views.view("messenger.submit")
async def ticket_list(request: MessengerSubmitRequest, context: ViewContext) -> Canvas:
    """Show the viewer's tickets again (Back, Refresh, Try again)."""
    settings, _ = parse_settings(request.stored_data)
    components = await _ticket_list(request.workspace_id, request.viewer_id(), settings, context)
    return Canvas(content=Content(components=components), stored_data=settings.to_json())


@default_views.view("messenger.submit", component_id=TICKET_PREFIX + "*")
async def ticket_detail(request: MessengerSubmitRequest, context: ViewContext) -> Canvas:
    """Show one of the viewer's own tickets; any other ticket id shows a not-found text."""
    settings, _ = parse_settings(request.stored_data)
    ticket_id = request.component_id.removeprefix(TICKET_PREFIX)
    viewer_id = request.viewer_id()
    ticket = await context.services.reader.ticket(context.app, request.workspace_id, ticket_id)
    back = ButtonComponent(id="back", label="Back", style="secondary", action=SubmitAction())

    if ticket is None or viewer_id is None or viewer_id not in ticket.contact_ids or ticket.category in HIDDEN_CATEGORIES:
        components: list = [TextComponent(text="We could not find that ticket.", style="error"), back]
    else:
        components = [
            TextComponent(text=ticket_title(ticket), style="header"),
            DataTableComponent(
                items=[
                    DataTableItem(field="Status", value=ticket_state(ticket, for_customer=True)),
                    DataTableItem(field="Last update", value=describe_age(ticket.updated_at, context.now)),
                    DataTableItem(field="Opened", value=describe_age(ticket.created_at, context.now)),
                ]
            ),
            back,
        ]
    return Canvas(content=Content(components=components), stored_data=settings.to_json())


@default_views.view("messenger.submit-sheet")
async def sheet_submitted(request: MessengerSubmitSheetRequest, context: ViewContext) -> SubmitResponse:
    """Confirm a submitted sheet and show the viewer's tickets again."""
    settings, _ = parse_settings(request.stored_data)
    components = [TextComponent(text="Thanks, we received your answers.", style="muted")]
    components += await _ticket_list(request.workspace_id, request.viewer_id(), settings, context)
    return SubmitResponse(canvas=Canvas(content=Content(components=components), stored_data=settings.to_json()))


def _form(values: dict[str, Any], errors: dict[str, str]) -> list:
    show = values.get("show") if values.get("show") in ("open", "all") else "open"
    limit = str(values.get("limit", DEFAULT_TICKETS))
    components: list = [
        TextComponent(text="Customer tickets card", style="header"),
        SingleSelectComponent(
            id="show",
            label="Show",
            value=show,
            options=[Option(id="open", text="Open tickets only"), Option(id="all", text="All tickets")],
        ),
    ]
    if "show" in errors:
        components.append(TextComponent(text=errors["show"], style="error"))
    components.append(
        InputComponent(
            id="limit",
            label=f"How many tickets ({MIN_TICKETS} to {MAX_TICKETS})",
            value=limit,
            save_state="failed" if "limit" in errors else None,
        )
    )
    if "limit" in errors:
        components.append(TextComponent(text=errors["limit"], style="error"))
    components.append(ButtonComponent(id="save", label="Save", action=SubmitAction()))
    return components


async def _ticket_list(workspace_id: str, viewer_id: str | None, settings: CardSettings, context: ViewContext) -> list:
    header = TextComponent(text="Your tickets", style="header")
    if viewer_id is None:
        return [header, TextComponent(text="Start a conversation to see your tickets here.", style="muted")]

    tickets, _ = await context.services.reader.tickets(
        context.app, workspace_id, viewer_id, open_only=settings.open_only, limit=settings.limit + READ_AHEAD
    )
    visible = [ticket for ticket in tickets if ticket.category not in HIDDEN_CATEGORIES]
    if not visible:
        text = "You have no open tickets." if settings.open_only else "You have no tickets yet."
        return [header, TextComponent(text=text, style="muted"), _refresh_button()]

    shown = visible[: settings.limit]
    items = [
        ticket_item(ticket, for_customer=True, now=context.now, changed_word="updated")
        for ticket in shown
    ]
    components: list = [header, ListComponent(items=items)]
    # The total counts only what was read; more tickets may exist beyond the read-ahead.
    note = showing_note(len(shown), len(visible), "tickets")
    if note is not None:
        components.append(note)
    components.append(_refresh_button())
    return components


def _refresh_button() -> ButtonComponent:
    return ButtonComponent(id="refresh", label="Refresh", style="secondary", action=SubmitAction())
