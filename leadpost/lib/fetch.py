"""Reaching a URL someone else chose without letting it reach our own network (SPEC §8, §12):
downloading a vendor's attachment URL (`fetch`) and posting a webhook to an agency's (`send`).

A URL in a lead is chosen by whoever posts it, so every fetch is treated as hostile: the host is
resolved once, every address it resolves to must be public, the connection goes to that checked
address (the name is kept for the Host header and TLS), each redirect is checked again, only ports
80 and 443 are allowed, and size, time and redirects are bounded. No proxy from the environment is
used: a proxy would make the connected address something other than the one checked.

The size bound holds for the decoded file too: the body is read as sent and its Content-Encoding
undone here, a bounded piece at a time, so a small compressed reply cannot inflate past the limit.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024
_GZIP = ("gzip", "x-gzip")
# Each coding costs a decoder; no real file is compressed more than twice.
_MAX_CODINGS = 3


class FetchError(Exception):
    """Why a download did not give a file; `retry` says whether trying later may help."""

    retry = False


class Refused(FetchError):
    """The URL or the address it leads to is not one we fetch from (never retried)."""


class Failed(FetchError):
    """The server answered, but not with a file we keep (a 4xx, too large, too many redirects)."""


class Transient(FetchError):
    """A network error, a time-out or a 5xx: worth another try later."""

    retry = True


@dataclass(frozen=True, slots=True)
class Policy:
    max_bytes: int
    timeout: float  # seconds for the whole download, redirects included
    max_redirects: int = 3
    # Tests serve files from 127.0.0.1 on a random port; production never turns this on.
    allow_loopback: bool = False
    # An operator's per-account switch for webhooks to the agency's own network (SPEC §12):
    # private ranges on any port, never loopback, link-local (cloud metadata) or reserved ones.
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Fetched:
    content: bytes
    content_type: str
    final_url: str


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d, or NAT64), if any."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_public(ip: IPAddress) -> bool:
    """Routable on the public internet: not loopback, private, carrier NAT, link-local (cloud
    metadata), multicast, reserved or unspecified. `is_global` follows IANA's special-purpose
    registries, which cover all of those but multicast."""
    ip = _unwrap(ip)
    # is_global misses IPv6's reserved ::/8 beyond the few addresses IANA lists, e.g. the
    # deprecated IPv4-compatible ::127.0.0.1 (::7f00:1), which is_global calls public and some
    # stacks route to 127.0.0.1. SPEC §8 refuses reserved ranges, so they are refused here.
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def is_private_network(ip: IPAddress) -> bool:
    """An address of a private network (RFC 1918, carrier NAT, IPv6 unique local), not of this
    machine or of the link: loopback and link-local hold this host's own services and the cloud's
    metadata, which no switch opens."""
    ip = _unwrap(ip)
    return any(ip in network for network in _PRIVATE_NETWORKS if network.version == ip.version)


_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _allowed(ip: IPAddress, policy: Policy) -> bool:
    return (
        is_public(ip)
        or (policy.allow_loopback and _unwrap(ip).is_loopback)
        or (policy.allow_private and is_private_network(ip))
    )


def _any_port(ip: IPAddress, policy: Policy) -> bool:
    return (policy.allow_loopback and _unwrap(ip).is_loopback) or (
        policy.allow_private and is_private_network(ip)
    )


def _checked_address(url: httpx.URL, policy: Policy) -> IPAddress:
    """Resolve the URL's host once and return the address to connect to, or refuse."""
    if url.scheme not in ("http", "https"):
        raise Refused(f"only http:// and https:// URLs are fetched, not {url.scheme or 'none'}:")
    if not url.host:
        raise Refused("the URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        # A name that does not resolve now may resolve later (DNS outage): retried.
        raise Transient(f"cannot resolve {url.host}: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise Transient(f"{url.host} resolves to no address")
    # Every address must pass, not just the first: a name resolving to one public and one private
    # address could otherwise be connected to the private one by the next resolution.
    refused = [ip for ip in addresses if not _allowed(ip, policy)]
    if refused:
        raise Refused(f"{url.host} resolves to a non-public address ({refused[0]})")
    chosen = addresses[0]
    if port not in (80, 443) and not _any_port(chosen, policy):
        raise Refused(f"port {port} is not reached (only 80 and 443)")
    return chosen


def _codings(header: str) -> list[str]:
    """The content codings of a reply, in the order they were applied (RFC 9110 §8.4)."""
    codings = [c.strip().lower() for c in header.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    for coding in codings:
        if coding not in (*_GZIP, "deflate"):
            raise Failed(
                f"the file is sent with Content-Encoding {coding[:40]}, which is not accepted; "
                "send it uncompressed"
            )
    if len(codings) > _MAX_CODINGS:
        raise Failed(
            f"the file is sent with {len(codings)} Content-Encodings; at most {_MAX_CODINGS} are undone"
        )
    return codings


class _Inflater:
    """Undoes one gzip or deflate coding, never asking zlib for more than one chunk at a time."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._gzip = coding in _GZIP
        # deflate is zlib-wrapped by RFC 9110, but some servers send it raw and browsers accept
        # both; the first two bytes tell them apart, so they are held until both arrived.
        self._head = b""
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16) if self._gzip else None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wrapped = (
                data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and int.from_bytes(data[:2]) % 31 == 0
            )
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        while True:
            try:
                out = self._zlib.decompress(data, _CHUNK)
            except zlib.error:
                raise Failed(f"the file's {self.coding} data is corrupt") from None
            if out:
                yield out
            if self._zlib.eof:
                data = self._zlib.unused_data
                if not data:
                    return
                if not self._gzip:
                    raise Failed(f"the file's {self.coding} data is corrupt (bytes after its end)")
                # A gzip file is a series of members (RFC 1952 §2.2): the next one starts here.
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
                continue
            data = self._zlib.unconsumed_tail
            # A full chunk may leave output inside zlib even when all input was taken.
            if not data and len(out) < _CHUNK:
                return

    def finish(self) -> None:
        if self._zlib is None or not self._zlib.eof:
            raise Failed(f"the file's {self.coding} data is truncated")


class _Body:
    """The file as stored: the raw bytes with each coding undone, failing once over the limit."""

    def __init__(self, codings: list[str], max_bytes: int, deadline: float) -> None:
        self._layers = [_Inflater(coding) for coding in reversed(codings)]  # the last applied first
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._chunks: list[bytes] = []
        self._size = 0

    def feed(self, raw: bytes) -> None:
        for piece in self._through(0, raw):
            self._size += len(piece)
            if self._size > self._max_bytes:
                raise Failed(
                    f"the file is larger than the limit of {self._max_bytes} bytes once decoded"
                )
            self._chunks.append(piece)

    def _through(self, layer: int, data: bytes) -> Iterator[bytes]:
        if layer == len(self._layers):
            yield data
            return
        # Stacked codings can turn a few bytes into hours of inflating that yield nothing (empty
        # deflate blocks): the time limit is checked at every piece, not only at every read.
        _remaining(self._deadline)
        for piece in self._layers[layer].feed(data):
            yield from self._through(layer + 1, piece)

    def content(self) -> bytes:
        for layer in self._layers:
            layer.finish()
        return b"".join(self._chunks)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The certificate-checking TLS context every fetch and send shares: making one loads the
    whole CA bundle (tens of ms), which per attempt was most of a webhook delivery's cost."""
    return httpx.create_ssl_context()


def fetch(url: str, policy: Policy) -> Fetched:
    """Download `url` under `policy`; raises Refused, Failed or Transient."""
    deadline = time.monotonic() + policy.timeout
    current = url
    with httpx.Client(trust_env=False, follow_redirects=False, verify=_tls()) as client:
        for _ in range(policy.max_redirects + 1):
            try:
                target = httpx.URL(current)
            except (httpx.InvalidURL, ValueError) as exc:
                raise Refused(f"not a valid URL: {exc}") from None
            address = _checked_address(target, policy)
            result = _get(client, target, address, policy, deadline)
            if isinstance(result, Fetched):
                return result
            current = result  # a redirect: its target is checked like the first URL
    raise Failed(f"more than {policy.max_redirects} redirects")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Transient("the download took longer than allowed")
    return left


def _get(
    client: httpx.Client, target: httpx.URL, address: IPAddress, policy: Policy, deadline: float
) -> Fetched | str:
    # Connect to the checked address, never to a second resolution of the name (DNS rebinding);
    # the name still goes in the Host header and the TLS handshake (SNI, certificate check).
    pinned = target.copy_with(host=str(address))
    host_header = target.host if target.port is None else f"{target.host}:{target.port}"
    timeout = httpx.Timeout(min(15.0, _remaining(deadline)))
    try:
        with client.stream(
            "GET",
            pinned,
            # identity is asked for, but a server may compress anyway: the body is read raw and
            # decoded by _Body under the same size cap.
            headers={
                "Host": host_header,
                "User-Agent": "Leadpost attachment fetcher",
                "Accept-Encoding": "identity",
            },
            extensions={"sni_hostname": target.host},
            timeout=timeout,
        ) as response:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise Failed(f"HTTP {response.status_code} without a Location")
                return urljoin(str(target), location)
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise Transient(f"HTTP {response.status_code} from {target.host}")
            if response.status_code >= 400:
                raise Failed(f"HTTP {response.status_code} from {target.host}")
            if not 200 <= response.status_code < 300:
                raise Failed(f"unexpected HTTP {response.status_code} from {target.host}")
            codings = _codings(response.headers.get("content-encoding", ""))
            body = _Body(codings, policy.max_bytes, deadline)
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                raise Failed(f"the file is {declared} bytes; the limit is {policy.max_bytes}")
            size = 0
            # iter_raw: httpx would inflate a whole chunk at once, whatever its size once decoded.
            for chunk in response.iter_raw(_CHUNK):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise Failed(f"the file is larger than the limit of {policy.max_bytes} bytes")
                body.feed(chunk)
                _remaining(deadline)
            content_type = response.headers.get("content-type", "")[:255]
            return Fetched(body.content(), content_type, str(target))
    except httpx.TimeoutException:
        raise Transient(f"timed out talking to {target.host}") from None
    except httpx.TransportError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            # A certificate that does not verify will not verify on the next try either.
            raise Failed(f"the TLS certificate of {target.host} is not valid") from None
        raise Transient(f"network error talking to {target.host}: {type(exc).__name__}") from None


@dataclass(frozen=True, slots=True)
class Answer:
    """A receiver's answer to a POST: its status and the first bytes of its body."""

    status: int
    head: bytes
    headers: httpx.Headers


def send(
    url: str, body: bytes, headers: dict[str, str], policy: Policy, *, head_bytes: int = 1024
) -> Answer:
    """POST `body` to `url` under `policy` (the same address rules as `fetch`), following no
    redirect; raises Refused, or Transient for a network error or a time-out. Any HTTP answer is
    returned, whatever its status: what it means is the caller's to say. Only the first
    `head_bytes` of the answer are read."""
    deadline = time.monotonic() + policy.timeout
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refused(f"not a valid URL: {exc}") from None
    address = _checked_address(target, policy)
    pinned = target.copy_with(host=str(address))
    host_header = target.host if target.port is None else f"{target.host}:{target.port}"
    timeout = httpx.Timeout(_remaining(deadline))
    with httpx.Client(trust_env=False, follow_redirects=False, verify=_tls()) as client:
        try:
            with client.stream(
                "POST",
                pinned,
                content=body,
                headers={**headers, "Host": host_header, "Accept-Encoding": "identity"},
                extensions={"sni_hostname": target.host},
                timeout=timeout,
            ) as response:
                head = b""
                # Raw bytes: a compressed answer is kept as sent, never inflated.
                for chunk in response.iter_raw(head_bytes):
                    head += chunk
                    if len(head) >= head_bytes:
                        break
                    _remaining(deadline)
                return Answer(response.status_code, head[:head_bytes], response.headers)
        except httpx.TimeoutException:
            raise Transient(
                f"timed out after {policy.timeout:g} s talking to {target.host}"
            ) from None
        except httpx.TransportError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise Transient(f"the TLS certificate of {target.host} is not valid") from None
            raise Transient(
                f"network error talking to {target.host}: {type(exc).__name__}"
            ) from None
