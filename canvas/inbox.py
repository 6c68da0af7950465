"""The built-in Inbox views, which show a teammate the viewed contact's tickets, conversations and activity.

Component ids: `refresh` and `retry` redraw the overview, `ticket:<id>` opens a ticket,
`back` returns, `add_note` posts the overview as a note on the conversation (only shown
when `services.intercom_api` is set). Every read is scoped to the URL's app and the signed
body's workspace.
"""

from __future__ import annotations

import asyncio
import html

import structlog

from canvas.actions import SubmitAction
from canvas.components import (
    ButtonComponent,
    DataTableComponent,
    DataTableItem,
    DividerComponent,
    ListComponent,
    ListItem,
    TextComponent,
)
from canvas.limits import clip, showing_note
from canvas.relative_time import describe_age
from canvas.requests import InboxInitializeRequest, InboxSubmitRequest
from canvas.ticket_text import (
    TICKET_PREFIX,
    conversation_state,
    conversation_title,
    rating_text,
    ticket_item,
    ticket_state,
    ticket_title,
)
from canvas.views import ViewContext, default_views

__all__ = ["overview", "ticket_detail"]

log = structlog.get_logger(__name__)

MAX_TICKETS = 10
MAX_CONVERSATIONS = 5
MAX_ACTIVITY = 10
MAX_SUMMARY_CHARS = 120
MAX_DESCRIPTION_CHARS = 1000


@default_views.view("inbox.initialize")
@default_views.view("inbox.submit")
async def overview(request: InboxInitializeRequest, context: ViewContext, *, notice: TextComponent | None = None) -> list:
    """Show the contact's tickets, conversations and latest activity, or an empty state."""
    contact_id = request.contact_id()
    if contact_id is None:
        return [
            TextComponent(text="Customer activity", style="header"),
            TextComponent(text="This conversation has no contact yet, so there is no activity to show."),
        ]

    reader = context.services.reader
    # The three reads are independent; running them together costs the slowest one, not the sum.
    (tickets, ticket_total), (conversations, conversation_total), (entries, entry_total) = await asyncio.gather(
        reader.tickets(context.app, request.workspace_id, contact_id, limit=MAX_TICKETS),
        reader.conversations(context.app, request.workspace_id, contact_id, limit=MAX_CONVERSATIONS),
        reader.activity(context.app, request.workspace_id, contact_id, limit=MAX_ACTIVITY),
    )

    components: list = [TextComponent(text="Customer activity", style="header")]
    if notice is not None:
        components.append(notice)
    if not (tickets or conversations or entries):
        components.append(
            TextComponent(
                text="No recorded activity for this customer yet. Tickets, conversations and "
                "activity appear here once Intercom sends their webhooks.",
                style="muted",
            )
        )
        components.append(_refresh_button())
        return components

    components += _ticket_section(tickets, ticket_total, context)
    components += _conversation_section(conversations, conversation_total, context)
    components += _activity_section(entries, entry_total, context)
    components.append(DividerComponent())
    components.append(_refresh_button())
    if context.services.intercom_api is not None and _conversation_id(request):
        components.append(
            ButtonComponent(id="add_note", label="Add summary as note", style="secondary", action=SubmitAction())
        )
    return components


@default_views.view("inbox.submit", component_id=TICKET_PREFIX + "*")
async def ticket_detail(request: InboxSubmitRequest, context: ViewContext) -> list:
    """Show one ticket of the viewed contact, with a Back button."""
    ticket_id = request.component_id.removeprefix(TICKET_PREFIX)
    contact_id = request.contact_id()
    ticket = await context.services.reader.ticket(context.app, request.workspace_id, ticket_id)
    back = ButtonComponent(id="back", label="Back", style="secondary", action=SubmitAction())
    if ticket is None or contact_id not in ticket.contact_ids:
        return [TextComponent(text="This ticket is not among this customer's tickets.", style="error"), back]

    rows = [
        DataTableItem(field="State", value=ticket_state(ticket, for_customer=False)),
        DataTableItem(field="Customer sees", value=ticket_state(ticket, for_customer=True)),
        DataTableItem(field="Last change", value=describe_age(ticket.updated_at, context.now)),
        DataTableItem(field="Created", value=describe_age(ticket.created_at, context.now)),
    ]
    if ticket.ticket_type:
        rows.append(DataTableItem(field="Type", value=ticket.ticket_type))
    if ticket.category:
        rows.append(DataTableItem(field="Category", value=ticket.category))

    components: list = [TextComponent(text=ticket_title(ticket), style="header"), DataTableComponent(items=rows)]
    if ticket.description:
        components.append(TextComponent(text=clip(ticket.description, MAX_DESCRIPTION_CHARS)))
    components.append(back)
    return components


@default_views.view("inbox.submit", component_id="add_note")
async def add_note(request: InboxSubmitRequest, context: ViewContext) -> list:
    """Post the overview as an internal note on the conversation and show the outcome."""
    api = context.services.intercom_api
    conversation_id = _conversation_id(request)
    contact_id = request.contact_id()
    if api is None or conversation_id is None or contact_id is None:
        notice = TextComponent(text="Notes cannot be added here: no Intercom API access or no conversation.", style="error")
        return await overview(request, context, notice=notice)

    note = await _summary_html(request, context, contact_id)
    try:
        await api.add_note(context.app, request.workspace_id, conversation_id, note)
    except Exception as error:  # any API failure is shown to the teammate, who can retry
        log.warning("canvas.add_note_failed", app=context.app, workspace_id=request.workspace_id,
                    conversation_id=conversation_id, error=str(error))
        notice = TextComponent(text=f"Adding the note failed: {error}", style="error")
    else:
        notice = TextComponent(text="Summary added as a note.", style="muted")
    return await overview(request, context, notice=notice)


def _ticket_section(tickets, total: int, context: ViewContext) -> list:
    if not tickets:
        return []
    items = [
        ticket_item(ticket, for_customer=False, now=context.now, changed_word="changed")
        for ticket in tickets
    ]
    heading = TextComponent(text="**Tickets**", bottom_margin="none")
    return _with_note([heading, ListComponent(items=items)], len(items), total, "tickets")


def _conversation_section(conversations, total: int, context: ViewContext) -> list:
    if not conversations:
        return []
    items = []
    for conversation in conversations:
        details = [conversation_state(conversation)]
        rating = rating_text(conversation)
        if rating:
            details.append(rating)
        items.append(
            ListItem(
                id=f"conversation:{conversation.conversation_id}",
                title=conversation_title(conversation),
                subtitle=" · ".join(details),
                tertiary_text=describe_age(conversation.updated_at, context.now),
            )
        )
    heading = TextComponent(text="**Recent conversations**", bottom_margin="none")
    return _with_note([heading, ListComponent(items=items)], len(items), total, "conversations")


def _activity_section(entries, total: int, context: ViewContext) -> list:
    if not entries:
        return []
    items = [
        ListItem(
            id=f"activity:{entry.notification_id}",
            title=clip(entry.summary, MAX_SUMMARY_CHARS),
            subtitle=describe_age(entry.occurred_at, context.now),
        )
        for entry in entries
    ]
    heading = TextComponent(text="**Latest activity**", bottom_margin="none")
    return _with_note([heading, ListComponent(items=items)], len(items), total, "activity")


def _with_note(components: list, shown: int, total: int, key: str) -> list:
    note = showing_note(shown, total, key)
    return components + [note] if note is not None else components


def _refresh_button() -> ButtonComponent:
    return ButtonComponent(id="refresh", label="Refresh", style="secondary", action=SubmitAction())


def _conversation_id(request: InboxInitializeRequest) -> str | None:
    return request.conversation.id if request.conversation is not None else None


async def _summary_html(request: InboxSubmitRequest, context: ViewContext, contact_id: str) -> str:
    reader = context.services.reader
    tickets, _ = await reader.tickets(context.app, request.workspace_id, contact_id, limit=MAX_TICKETS)
    conversations, _ = await reader.conversations(context.app, request.workspace_id, contact_id, limit=MAX_CONVERSATIONS)

    lines = [
        f"{ticket_title(ticket)}: {ticket_state(ticket, for_customer=False)}, changed {describe_age(ticket.updated_at, context.now)}"
        for ticket in tickets
    ]
    for conversation in conversations:
        rating = rating_text(conversation)
        lines.append(f"{conversation_title(conversation)}: {conversation_state(conversation)}" + (f", {rating}" if rating else ""))
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines) or "<li>No recorded activity.</li>"
    return f"<p><b>Customer activity</b></p><ul>{items}</ul>"
