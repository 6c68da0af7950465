"""The optional source-address allowlist of the webhook receiver.

`WEBHOOK_IP_ALLOWLIST` empty turns it off; `intercom` allows Intercom's published outbound
addresses; anything else is a comma-separated list of addresses or CIDR networks. The client
address is the direct peer, or the `X-Forwarded-For` entry added by the nearest trusted proxy
when the peer is listed in `TRUSTED_PROXIES`. The allowlist is defence in depth: the signature
check still applies to every allowed request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

__all__ = ["INTERCOM_OUTBOUND_ADDRESSES", "AllowlistError", "SourceAllowlist", "parse_networks"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Intercom's outbound addresses for webhooks and Canvas Kit requests, per hosting region, as
# published in Intercom's developer documentation ("Set up Webhooks", developers.intercom.com).
# Intercom may change them without notice; set WEBHOOK_IP_ALLOWLIST to explicit CIDRs to override.
INTERCOM_OUTBOUND_ADDRESSES: dict[str, tuple[str, ...]] = {
    "US": ("34.231.68.152", "34.197.76.213", "35.171.78.91", "35.169.138.21", "52.70.27.159", "52.44.63.161"),
    "EU": ("54.217.125.63", "54.246.173.113", "54.216.9.3"),
    "AU": ("52.63.36.185", "3.104.68.152", "52.64.2.165"),
}
INTERCOM_KEYWORD = "intercom"


class AllowlistError(ValueError):
    """Raised when WEBHOOK_IP_ALLOWLIST or TRUSTED_PROXIES contains an entry that is not an address or CIDR."""


def parse_networks(entries: Iterable[str], setting: str) -> tuple[IPNetwork, ...]:
    """Parse addresses and CIDRs; raise AllowlistError naming the setting and the bad entry."""
    networks = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise AllowlistError(
                f"{setting} entry {entry!r} is not an IP address or CIDR network (e.g. 203.0.113.0/24)"
            ) from None
    return tuple(networks)


class SourceAllowlist:
    """Decide whether a webhook request comes from an allowed source address."""

    def __init__(self, allowed: Sequence[IPNetwork] | None, trusted_proxies: Sequence[IPNetwork] = ()) -> None:
        self._allowed = tuple(allowed) if allowed is not None else None
        self._trusted_proxies = tuple(trusted_proxies)

    @classmethod
    def from_settings(cls, allowlist: str, trusted_proxies: Sequence[str]) -> "SourceAllowlist":
        """Build the allowlist from WEBHOOK_IP_ALLOWLIST and TRUSTED_PROXIES."""
        proxies = parse_networks(trusted_proxies, "TRUSTED_PROXIES")
        value = allowlist.strip()
        if not value:
            return cls(None, proxies)
        if value.lower() == INTERCOM_KEYWORD:
            addresses = [address for region in INTERCOM_OUTBOUND_ADDRESSES.values() for address in region]
            return cls(parse_networks(addresses, "INTERCOM_OUTBOUND_ADDRESSES"), proxies)
        return cls(parse_networks(value.split(","), "WEBHOOK_IP_ALLOWLIST"), proxies)

    @property
    def enabled(self) -> bool:
        return self._allowed is not None

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """Return the client address: the peer, or from X-Forwarded-For when the peer is a trusted proxy.

        X-Forwarded-For is read right to left, skipping trusted proxies, so the first address
        that no trusted proxy vouches for is the client. A header that cannot be parsed yields None.
        """
        peer_address = _address(peer)
        if peer_address is None or not self._is_trusted_proxy(peer_address):
            return peer
        if not forwarded_for:
            return peer

        hops = [hop.strip() for hop in forwarded_for.split(",")]
        for hop in reversed(hops):
            hop_address = _address(hop)
            if hop_address is None:
                return None
            if not self._is_trusted_proxy(hop_address):
                return str(hop_address)
        return hops[0]

    def allows(self, address: str | None) -> bool:
        """Return whether `address` may send webhooks; everything is allowed when the list is off."""
        if self._allowed is None:
            return True
        parsed = _address(address)
        if parsed is None:
            return False
        return any(parsed in network for network in self._allowed)

    def _is_trusted_proxy(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted_proxies)


def _address(value: str | None) -> IPAddress | None:
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    # A server listening on `::` gets the address of an IPv4 client as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
