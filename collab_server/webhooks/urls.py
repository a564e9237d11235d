"""Which webhook URLs the server sends to (the SSRF policy, docs/webhooks.md).

A URL must be ``http`` or ``https`` with a host. Every address the host resolves to must
be public: loopback, private (RFC 1918, ``fc00::/7``), link-local (cloud metadata at
169.254.169.254), multicast, reserved and unspecified addresses are refused unless the
``webhook_allow_private`` setting is on (tests, a receiver on the same machine). The
check runs when a webhook is created and again before every delivery (a name may later
resolve elsewhere); redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from collab_server.errors import Unprocessable


class RefusedUrl(Unprocessable):
    """The URL is not one the server sends webhooks to."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_url(url: object, *, allow_private: bool) -> str:
    """``url`` if the policy allows it, else :class:`RefusedUrl` saying why."""
    if not isinstance(url, str) or not 0 < len(url) <= 2000:
        raise RefusedUrl("url must be a string of 1 to 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedUrl(f"invalid url: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise RefusedUrl("webhook URLs must be http or https")
    if not parts.hostname:
        raise RefusedUrl("webhook URLs need a host")
    if allow_private:
        return url
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError:
        raise RefusedUrl(f"cannot resolve {parts.hostname}") from None
    addresses = {info[4][0] for info in found}
    if not addresses or not all(_public(str(a)) for a in addresses):
        raise RefusedUrl(
            f"{parts.hostname} is a loopback, private or reserved address: refused "
            "(the webhook_allow_private setting permits it)"
        )
    return url
