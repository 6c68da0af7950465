"""The source-address allowlist, over real HTTP from 127.0.0.1 and as a unit."""

from __future__ import annotations

import pytest
from hypercorn.utils import LifespanFailureError

from oauth.signing import sign_hub
from tests.webhook_requests import WEBHOOK_PATH, make_body, post_signed
from webhooks.allowlist import INTERCOM_OUTBOUND_ADDRESSES, AllowlistError, SourceAllowlist, parse_networks


async def test_allowed_direct_peer_stored(start_server):
    server = await start_server(WEBHOOK_IP_ALLOWLIST="10.0.0.0/8, 127.0.0.0/8")

    response = await post_signed(server.client, make_body())

    assert response.status_code == 200


async def test_other_direct_peer_gets_403(start_server):
    server = await start_server(WEBHOOK_IP_ALLOWLIST="intercom")

    response = await post_signed(server.client, make_body())

    assert response.status_code == 403
    assert "127.0.0.1" in response.json()["error"]
    assert "WEBHOOK_IP_ALLOWLIST" in response.json()["error"]
    assert await server.database.notifications.count_documents({}) == 0


async def test_trusted_proxy_forwarded_address(start_server):
    server = await start_server(WEBHOOK_IP_ALLOWLIST="intercom", TRUSTED_PROXIES="127.0.0.1")

    from_intercom = await post_signed(server.client, make_body(), headers={"X-Forwarded-For": "54.217.125.63"})
    from_elsewhere = await post_signed(server.client, make_body(), headers={"X-Forwarded-For": "198.51.100.9"})
    spoofed_first_hop = await post_signed(
        server.client, make_body(), headers={"X-Forwarded-For": "54.217.125.63, 198.51.100.9"}
    )

    assert from_intercom.status_code == 200
    assert from_elsewhere.status_code == 403
    assert "198.51.100.9" in from_elsewhere.json()["error"]
    assert spoofed_first_hop.status_code == 403


async def test_untrusted_proxy_header_ignored(start_server):
    server = await start_server(WEBHOOK_IP_ALLOWLIST="intercom")

    response = await post_signed(server.client, make_body(), headers={"X-Forwarded-For": "54.217.125.63"})

    assert response.status_code == 403
    assert "127.0.0.1" in response.json()["error"]


async def test_allowed_source_still_needs_signature(start_server):
    server = await start_server(WEBHOOK_IP_ALLOWLIST="127.0.0.1")
    body = make_body()

    response = await server.client.post(WEBHOOK_PATH, content=body, headers={"X-Hub-Signature": sign_hub(body, "x")})

    assert response.status_code == 401


async def test_invalid_allowlist_stops_start(start_server):
    with pytest.raises(LifespanFailureError, match="WEBHOOK_IP_ALLOWLIST entry 'not-a-network'"):
        await start_server(WEBHOOK_IP_ALLOWLIST="10.0.0.0/8,not-a-network")


def test_intercom_keyword_lists_every_region():
    allowlist = SourceAllowlist.from_settings("intercom", [])

    for region in ("US", "EU", "AU"):
        for address in INTERCOM_OUTBOUND_ADDRESSES[region]:
            assert allowlist.allows(address), (region, address)
    assert not allowlist.allows("127.0.0.1")
    assert not allowlist.allows(None)
    assert not allowlist.allows("not an address")


def test_ipv4_mapped_peer_allowed():
    allowlist = SourceAllowlist.from_settings("127.0.0.1", [])

    assert allowlist.allows("::ffff:127.0.0.1")
    assert not allowlist.allows("::ffff:127.0.0.2")


def test_empty_allowlist_allows_everything():
    allowlist = SourceAllowlist.from_settings("", [])

    assert not allowlist.enabled
    assert allowlist.allows("198.51.100.9")
    assert allowlist.allows(None)


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.5", "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        ("10.0.0.5", "203.0.113.7, 10.0.0.9", "203.0.113.7"),
        ("10.0.0.5", "10.0.0.8, 10.0.0.9", "10.0.0.8"),
        ("10.0.0.5", "garbage", None),
        ("192.0.2.1", "203.0.113.7", "192.0.2.1"),
        ("2001:db8::1", "203.0.113.7", "2001:db8::1"),
        ("::ffff:10.0.0.5", "203.0.113.7", "203.0.113.7"),
    ],
)
def test_client_address_from_proxies(peer, forwarded_for, expected):
    allowlist = SourceAllowlist.from_settings("203.0.113.0/24", ["10.0.0.0/8"])

    assert allowlist.client_address(peer, forwarded_for) == expected


def test_invalid_trusted_proxy_named():
    with pytest.raises(AllowlistError, match="TRUSTED_PROXIES entry '10.0.0.300'"):
        parse_networks(["10.0.0.300"], "TRUSTED_PROXIES")
