"""The dispatcher that leases stored notifications and runs their handlers (to be filled in)."""

from __future__ import annotations

__all__ = ["Dispatcher"]


class Dispatcher:
    """Lease due notifications and run the handlers registered for their topics."""

    def __init__(self, services, *, worker_id: str | None = None) -> None:
        self.services = services
        self.worker_id = worker_id

    async def start(self) -> None:
        """Start processing in background tasks."""

    async def stop(self, deadline: float | None = None) -> None:
        """Stop taking work; finish or release what is held within `deadline` seconds."""
