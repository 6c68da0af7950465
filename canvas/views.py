"""The handler API for canvas views: decorated async functions, chosen by request kind.

A view receives the typed request and a `ViewContext`. It returns components, `Content`, a
`Canvas` or a full response model, and `render()` wraps that result in the response shape of
the request kind and checks it. Example::

    views = CanvasViews()

    @views.view("inbox.initialize")
    async def hello(request: InboxInitializeRequest, context: ViewContext):
        return [TextComponent(text=f"Hello from {request.workspace_id}", style="header")]

Submit-like kinds (`inbox.submit`, `messenger.configure`, `messenger.submit`) may register
a view per `component_id`: an exact id, or a prefix ending in `*` (`"ticket:*"`). The view
registered without a `component_id` handles every other id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from canvas.components import Canvas, Content
from canvas.requests import (
    CanvasRequest,
    InboxInitializeRequest,
    InboxSubmitRequest,
    LiveCanvasRequest,
    MessengerConfigureRequest,
    MessengerInitializeRequest,
    MessengerSubmitRequest,
    MessengerSubmitSheetRequest,
)
from canvas.responses import ConfigureResults, InitializeResponse, LiveCanvasResponse, SubmitResponse

__all__ = ["REQUEST_MODELS", "CanvasViews", "ViewContext", "ViewNotFound", "default_views"]

# Request kind -> the model its body is parsed with. The kind is the URL path after `canvas/`.
REQUEST_MODELS: dict[str, type[CanvasRequest]] = {
    "inbox.initialize": InboxInitializeRequest,
    "inbox.submit": InboxSubmitRequest,
    "messenger.configure": MessengerConfigureRequest,
    "messenger.initialize": MessengerInitializeRequest,
    "messenger.submit": MessengerSubmitRequest,
    "messenger.submit-sheet": MessengerSubmitSheetRequest,
    "messenger.live": LiveCanvasRequest,
}

_RESPONSE_TYPES: dict[str, tuple[type[BaseModel], ...]] = {
    "inbox.initialize": (InitializeResponse,),
    "inbox.submit": (SubmitResponse,),
    "messenger.configure": (InitializeResponse, ConfigureResults),
    "messenger.initialize": (InitializeResponse,),
    "messenger.submit": (SubmitResponse,),
    "messenger.submit-sheet": (SubmitResponse,),
    "messenger.live": (LiveCanvasResponse,),
}


@dataclass
class ViewContext:
    """The app key, request kind, shared services and current time that a view gets with the request."""

    app: str
    kind: str
    services: Any
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


View = Callable[[Any, ViewContext], Awaitable[Any]]


class ViewNotFound(LookupError):
    """Raised when no view is registered for a request kind and component id."""


class CanvasViews:
    """A registry of canvas views keyed by request kind and, optionally, component id."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str | None], View] = {}

    def view(self, kind: str, *, component_id: str | None = None) -> Callable[[View], View]:
        """Register the decorated async function as the view for `kind` (and `component_id`)."""
        if kind not in REQUEST_MODELS:
            raise ValueError(f"unknown canvas request kind {kind!r}; use one of {', '.join(REQUEST_MODELS)}")

        def register(function: View) -> View:
            key = (kind, component_id)
            if key in self._views:
                raise ValueError(f"a view for {kind} component_id={component_id!r} is already registered")
            self._views[key] = function
            return function

        return register

    def find(self, kind: str, component_id: str | None = None) -> View:
        """Return the view for `kind` and `component_id`: exact id, then longest prefix, then default."""
        if component_id is not None:
            exact = self._views.get((kind, component_id))
            if exact is not None:
                return exact
            prefixes = [
                (len(key), view)
                for (view_kind, key), view in self._views.items()
                if view_kind == kind and key and key.endswith("*") and component_id.startswith(key[:-1])
            ]
            if prefixes:
                return max(prefixes, key=lambda entry: entry[0])[1]
        default = self._views.get((kind, None))
        if default is None:
            raise ViewNotFound(f"no canvas view is registered for {kind} component_id={component_id!r}")
        return default

    async def render(self, kind: str, request: CanvasRequest, context: ViewContext) -> dict[str, Any]:
        """Run the matching view and return the response body as JSON-ready data."""
        view = self.find(kind, getattr(request, "component_id", None))
        result = await view(request, context)
        response = to_response(kind, result)
        _check_surface(kind, response)
        return response.to_json()


def to_response(kind: str, result: Any) -> BaseModel:
    """Wrap a view's result (components, Content, Canvas or a response) in the response for `kind`."""
    if isinstance(result, list):
        result = Content(components=result)
    if isinstance(result, Content):
        result = Canvas(content=result)
    if isinstance(result, Canvas):
        result = _wrap_canvas(kind, result)

    allowed = _RESPONSE_TYPES[kind]
    if not isinstance(result, allowed):
        names = " or ".join(model.__name__ for model in allowed)
        raise TypeError(f"a {kind} view must return components, Content, Canvas or {names}, not {type(result).__name__}")
    return result


def _wrap_canvas(kind: str, canvas: Canvas) -> BaseModel:
    if kind == "messenger.live":
        if canvas.content is None:
            raise ValueError("a messenger.live view must return content; a live canvas cannot point to another content_url")
        return LiveCanvasResponse(content=canvas.content)
    if kind in ("inbox.initialize", "messenger.initialize", "messenger.configure"):
        return InitializeResponse(canvas=canvas)
    return SubmitResponse(canvas=canvas)


def _check_surface(kind: str, response: BaseModel) -> None:
    if not kind.startswith("inbox."):
        return
    canvas = getattr(response, "canvas", None)
    if canvas is not None and canvas.content is not None:
        canvas.content.check_for_inbox()


default_views = CanvasViews()
"""The views of the built-in customer-activity app (`canvas.inbox`, `canvas.messenger`)."""
