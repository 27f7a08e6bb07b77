"""Downloading a vendor's attachment URL safely (SPEC §8), against a real HTTP server on 127.0.0.1.

The URL in a lead is chosen by whoever posts it, so `fetch` must refuse every address that is not
public before it connects. Those refusals are checked here without any traffic leaving the machine:
an audit hook turns any connection to a non-loopback address into a test failure, so a refusal that
happened only after connecting could not pass unnoticed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import socket
import ssl
import sys
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from leadpost.lib.fetch import Failed, Fetched, Policy, Refused, Transient, fetch

PDF = b"%PDF-1.4 quote for John Doe\n" * 100

# Production's policy (SPEC §8): loopback refused like any other non-public address.
DEFAULT = Policy(max_bytes=1024 * 1024, timeout=10)
# The tests' policy: our own server on 127.0.0.1 (and only loopback) is reachable.
LOOPBACK = Policy(max_bytes=1024 * 1024, timeout=10, allow_loopback=True)


# ------------------------------------------------------------------ no traffic leaves the machine


class OutboundConnection(AssertionError):
    """A test tried to connect somewhere other than loopback: the refusal came too late."""


_guard = threading.Event()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect" or not _guard.is_set():
        return
    address = args[1]
    host = address[0] if isinstance(address, tuple) else str(address)
    if host not in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        raise OutboundConnection(f"the test tried to connect to {address!r}")


sys.addaudithook(_audit)  # audit hooks cannot be removed; it acts only while _guard is set


@pytest.fixture(autouse=True)
def no_traffic_leaves() -> Iterator[None]:
    _guard.set()
    try:
        yield
    finally:
        _guard.clear()


# ------------------------------------------------------------------ a real HTTP server

Route = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]
    requests: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (size cap, time-out) is expected here


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            send_status(self, 404)
        else:
            route(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def send_file(handler: BaseHTTPRequestHandler, body: bytes, content_type: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_undeclared(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """A body without Content-Length: HTTP/1.0, ended by closing the connection."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.end_headers()
    handler.wfile.write(body)


def send_encoded(handler: BaseHTTPRequestHandler, body: bytes, encoding: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/pdf")
    handler.send_header("Content-Encoding", encoding)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def send_redirect(handler: BaseHTTPRequestHandler, location: str, status: int = 302) -> None:
    handler.send_response(status)
    handler.send_header("Location", location)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def send_status(handler: BaseHTTPRequestHandler, status: int) -> None:
    body = f"HTTP {status}".encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class LocalServer:
    """A vendor's file server on 127.0.0.1: `routes` maps a path to a handler; `requests` lists
    the paths asked for, in order."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self.scheme = "http"
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._httpd.routes = {}
        self._httpd.requests = []
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def routes(self) -> dict[str, Route]:
        return self._httpd.routes

    @property
    def requests(self) -> list[str]:
        return self._httpd.requests

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _redirect_to(location: str) -> Route:
    return lambda handler: send_redirect(handler, location)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    srv.routes["/quote.pdf"] = lambda h: send_file(h, PDF, "application/pdf")
    for hops in range(1, 6):  # /hop/N redirects to /hop/N-1 (a relative Location); /hop/0 is a file
        srv.routes[f"/hop/{hops}"] = _redirect_to(f"/hop/{hops - 1}")
    srv.routes["/hop/0"] = lambda h: send_file(h, PDF, "application/pdf")
    srv.routes["/missing.pdf"] = lambda h: send_status(h, 404)
    srv.routes["/broken.pdf"] = lambda h: send_status(h, 500)
    srv.routes["/unavailable.pdf"] = lambda h: send_status(h, 503)
    srv.routes["/busy.pdf"] = lambda h: send_status(h, 429)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (the kernel completes the handshake)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/quote.pdf"
    finally:
        sock.close()


# ------------------------------------------------------------------ files that are fetched


def test_a_file_is_downloaded_with_its_content_type(server: LocalServer) -> None:
    fetched = fetch(server.url("/quote.pdf"), LOOPBACK)
    assert fetched == Fetched(PDF, "application/pdf", server.url("/quote.pdf"))
    assert server.requests == ["/quote.pdf"]


def test_a_chain_of_three_redirects_is_followed(server: LocalServer) -> None:
    fetched = fetch(server.url("/hop/3"), LOOPBACK)
    assert fetched.content == PDF
    assert fetched.final_url == server.url("/hop/0")
    assert server.requests == ["/hop/3", "/hop/2", "/hop/1", "/hop/0"]


def test_a_fourth_redirect_fails_without_being_followed(server: LocalServer) -> None:
    with pytest.raises(Failed, match="more than 3 redirects"):
        fetch(server.url("/hop/4"), LOOPBACK)
    assert server.requests == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]


def test_a_body_exactly_at_the_cap_is_kept(server: LocalServer) -> None:
    fetched = fetch(server.url("/quote.pdf"), Policy(len(PDF), timeout=10, allow_loopback=True))
    assert fetched.content == PDF


def _self_signed_tls(folder: Path) -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 that no public authority signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


def test_https_certificates_are_verified(tmp_path: Path) -> None:
    server = LocalServer(tls=_self_signed_tls(tmp_path))
    server.routes["/quote.pdf"] = lambda h: send_file(h, PDF, "application/pdf")
    try:
        # Failed for good: an untrusted certificate is not retried.
        with pytest.raises(Failed, match=r"TLS certificate .* is not valid"):
            fetch(server.url("/quote.pdf"), LOOPBACK)
        assert server.requests == []  # no request was sent over the untrusted connection
    finally:
        server.close()


# ------------------------------------------------------------------ answers that are not a file


def test_a_4xx_fails_for_good(server: LocalServer) -> None:
    with pytest.raises(Failed, match="HTTP 404") as caught:
        fetch(server.url("/missing.pdf"), LOOPBACK)
    assert caught.value.retry is False


@pytest.mark.parametrize("path", ["/broken.pdf", "/unavailable.pdf", "/busy.pdf"])
def test_a_5xx_or_429_is_transient(server: LocalServer, path: str) -> None:
    with pytest.raises(Transient, match=r"HTTP (500|503|429)") as caught:
        fetch(server.url(path), LOOPBACK)
    assert caught.value.retry is True


def test_a_body_over_the_cap_with_its_length_declared_fails(server: LocalServer) -> None:
    server.routes["/huge.pdf"] = lambda h: send_file(h, b"x" * 5000, "application/pdf")
    with pytest.raises(Failed, match="5000 bytes; the limit is 4096"):
        fetch(server.url("/huge.pdf"), Policy(4096, timeout=10, allow_loopback=True))


def test_a_body_over_the_cap_without_a_declared_length_fails(server: LocalServer) -> None:
    server.routes["/stream.bin"] = lambda h: send_undeclared(h, b"x" * 200_000)
    with pytest.raises(Failed, match="larger than the limit of 100000 bytes"):
        fetch(server.url("/stream.bin"), Policy(100_000, timeout=10, allow_loopback=True))


def test_a_body_without_a_declared_length_under_the_cap_is_kept(server: LocalServer) -> None:
    server.routes["/stream.bin"] = lambda h: send_undeclared(h, PDF)
    assert fetch(server.url("/stream.bin"), LOOPBACK).content == PDF


def test_a_server_that_never_answers_is_transient(silent_server: str) -> None:
    with pytest.raises(Transient, match=r"timed out|took longer"):
        fetch(silent_server, Policy(1024, timeout=0.5, allow_loopback=True))


def test_a_closed_port_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed: nothing listens there
    with pytest.raises(Transient, match="network error"):
        fetch(f"http://127.0.0.1:{port}/quote.pdf", LOOPBACK)


# ------------------------------------------------------------------ addresses that are refused


def test_loopback_is_refused_by_the_default_policy(server: LocalServer) -> None:
    with pytest.raises(Refused, match=r"non-public address \(127\.0\.0\.1\)") as caught:
        fetch(server.url("/quote.pdf"), DEFAULT)
    assert caught.value.retry is False
    assert server.requests == []


# Each of these would reach our own server if the check were fooled, so each points at it: a
# refusal is only real if no request arrived.
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "0.0.0.0",
        "2130706433",  # 127.0.0.1 in decimal
        "0x7f000001",  # 127.0.0.1 in hex
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::127.0.0.1]",  # IPv4-compatible IPv6 (deprecated, reserved ::/8)
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    ],
)
def test_our_own_machine_is_refused_in_any_spelling(server: LocalServer, host: str) -> None:
    with pytest.raises(Refused, match="non-public address"):
        fetch(f"http://{host}:{server.port}/quote.pdf", DEFAULT)
    assert server.requests == []


# Refused at the address check, before any connection: the audit hook fails the test otherwise.
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.0.0.1/quote.pdf",
        "http://172.16.0.1/quote.pdf",
        "http://192.168.1.1/quote.pdf",
        "http://100.64.0.1/quote.pdf",  # carrier-grade NAT
        "http://224.0.0.1/quote.pdf",  # multicast
        "http://240.0.0.1/quote.pdf",  # reserved
        "http://[fd00::1]/quote.pdf",  # IPv6 unique local
        "http://[fe80::1]/quote.pdf",  # IPv6 link-local
        "http://[::ffff:10.0.0.1]/quote.pdf",
        "https://10.0.0.1/quote.pdf",
    ],
)
def test_private_and_special_addresses_are_refused_before_connecting(url: str) -> None:
    with pytest.raises(Refused, match="non-public address"):
        fetch(url, LOOPBACK)  # even the tests' policy only opens loopback


def test_a_port_other_than_80_or_443_is_refused_before_connecting() -> None:
    with pytest.raises(Refused, match="port 22 is not reached"):
        fetch("http://93.184.216.34:22/quote.pdf", DEFAULT)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://93.184.216.34/quote.pdf"])
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(Refused, match="only http:// and https://"):
        fetch(url, DEFAULT)


@pytest.mark.parametrize(
    ("location", "refusal"),
    [
        ("http://169.254.169.254/latest/meta-data/", "non-public address"),
        ("http://10.0.0.1/quote.pdf", "non-public address"),
        ("http://93.184.216.34:22/", "port 22"),
        ("file:///etc/passwd", "only http:// and https://"),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(
    server: LocalServer, location: str, refusal: str
) -> None:
    server.routes["/moved.pdf"] = lambda h: send_redirect(h, location, 301)
    with pytest.raises(Refused, match=refusal):
        fetch(server.url("/moved.pdf"), LOOPBACK)
    assert server.requests == ["/moved.pdf"]


# ------------------------------------------------------------------ compressed replies

MiB = 1024 * 1024


def gzipped(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The gzip of the concatenated pieces, a piece at a time."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    for piece in pieces:
        yield compressor.compress(piece)
    yield compressor.flush()


def deflate_repeated(block: bytes, times: int, end: bytes = b"") -> Iterator[bytes]:
    """The raw deflate of `block` repeated `times` times then `end`, compressing the block only
    once: after a full flush deflate starts afresh, so every copy compresses to the same bytes."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    for _ in range(times):
        yield piece
    yield deflate.compress(end) + deflate.flush()


def gzip_of_zeros(size: int) -> Iterator[bytes]:
    """`size` zero bytes (whole MiB) gzipped, a piece at a time."""
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # RFC 1952 header: deflate, no name or time
    yield from deflate_repeated(bytes(MiB), size // MiB)
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(bytes(MiB), crc)
    yield crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little")


def test_the_zeros_helper_makes_a_valid_gzip() -> None:
    # The bombs below must fail for their size, not because the helper built a corrupt stream.
    assert gzip.decompress(b"".join(gzip_of_zeros(3 * MiB))) == bytes(3 * MiB)


BOMB_CAP = Policy(max_bytes=4 * MiB, timeout=30, allow_loopback=True)


def fetch_measured(url: str, policy: Policy) -> tuple[Failed, int]:
    """Fetch a URL that must fail; return the failure and the peak memory the fetch took."""
    tracemalloc.start()
    try:
        with pytest.raises(Failed) as caught:
            fetch(url, policy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return caught.value, peak


@pytest.mark.parametrize("layers", [1, 2], ids=["gzip", "gzip-gzip"])
def test_a_decompression_bomb_fails_without_being_inflated(
    server: LocalServer, layers: int
) -> None:
    # 1.5 GiB of zeros: about 1.5 MB gzipped once, about 2.6 KB gzipped twice.
    body: Iterable[bytes] = gzip_of_zeros(1536 * MiB)
    if layers == 2:
        body = gzipped(body)
    bomb = b"".join(body)
    assert len(bomb) < BOMB_CAP.max_bytes  # the Content-Length check lets it through
    server.routes["/bomb.pdf"] = lambda h: send_encoded(h, bomb, ", ".join(["gzip"] * layers))
    failure, peak = fetch_measured(server.url("/bomb.pdf"), BOMB_CAP)
    assert peak < 4 * BOMB_CAP.max_bytes + MiB
    assert f"larger than the limit of {BOMB_CAP.max_bytes} bytes once decoded" in str(failure)
    assert failure.retry is False


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZip", gzip.compress),  # codings are case-insensitive (RFC 9110 §8.4.1)
        ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 defines deflate
        ("deflate", _raw_deflate),  # raw, as some servers send it and browsers accept
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
        ("deflate, gzip", lambda data: gzip.compress(zlib.compress(data))),
        ("identity, gzip, identity", gzip.compress),
    ],
    ids=["gzip", "x-gzip", "GZip", "zlib", "raw-deflate", "gzip-gzip", "deflate-gzip", "identity"],
)
def test_a_compressed_file_is_stored_decoded(
    server: LocalServer, encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    original = PDF * 300  # several chunks once decoded
    server.routes["/quote.pdf"] = lambda h: send_encoded(h, encode(original), encoding)
    fetched = fetch(server.url("/quote.pdf"), LOOPBACK)
    assert fetched.content == original
    assert fetched.content_type == "application/pdf"


def test_a_gzip_of_several_members_is_stored_whole(server: LocalServer) -> None:
    # RFC 1952 §2.2: a gzip file is a series of members, as `cat a.gz b.gz` makes.
    body = gzip.compress(b"first part\n") + gzip.compress(b"second part\n")
    server.routes["/quote.pdf"] = lambda h: send_encoded(h, body, "gzip")
    assert fetch(server.url("/quote.pdf"), LOOPBACK).content == b"first part\nsecond part\n"


_PDF_GZIP = gzip.compress(PDF)


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (_PDF_GZIP[: len(_PDF_GZIP) // 2], "gzip"),
        (_PDF_GZIP[:-4], "gzip"),  # all but the length in the trailer
        (_PDF_GZIP[:10] + b"\xff" * 40 + _PDF_GZIP[50:], "gzip"),
        (_PDF_GZIP + b"trailing junk", "gzip"),
        (zlib.compress(PDF)[:-3], "deflate"),
        (_raw_deflate(PDF)[:-3], "deflate"),
        (b"x", "deflate"),
        (b"", "gzip"),
        (PDF, "gzip"),  # says gzip, is not
    ],
    ids=[
        "gzip-half",
        "gzip-no-length",
        "gzip-corrupt",
        "gzip-junk-after",
        "zlib-truncated",
        "raw-deflate-truncated",
        "deflate-one-byte",
        "gzip-empty",
        "gzip-not-gzip",
    ],
)
def test_a_broken_compressed_body_fails_for_good(
    server: LocalServer, body: bytes, encoding: str
) -> None:
    server.routes["/quote.pdf"] = lambda h: send_encoded(h, body, encoding)
    with pytest.raises(Failed, match=rf"{encoding} .*(truncated|corrupt)") as caught:
        fetch(server.url("/quote.pdf"), LOOPBACK)
    assert caught.value.retry is False  # the same bytes would come again


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "rot13"])
def test_a_coding_we_do_not_decode_fails_naming_it(server: LocalServer, encoding: str) -> None:
    server.routes["/quote.pdf"] = lambda h: send_encoded(h, PDF, encoding)
    coding = encoding.split(", ")[-1]
    with pytest.raises(
        Failed, match=rf"Content-Encoding {coding}, which is not accepted"
    ) as caught:
        fetch(server.url("/quote.pdf"), LOOPBACK)
    assert caught.value.retry is False


def test_more_than_three_stacked_codings_fail(server: LocalServer) -> None:
    body = PDF
    for _ in range(5):
        body = gzip.compress(body)
    server.routes["/quote.pdf"] = lambda h: send_encoded(h, body, ", ".join(["gzip"] * 5))
    with pytest.raises(Failed, match="5 Content-Encodings; at most 3 are undone"):
        fetch(server.url("/quote.pdf"), LOOPBACK)


def test_a_file_exactly_at_the_cap_once_decoded_is_kept(server: LocalServer) -> None:
    body = b"".join(gzip_of_zeros(2 * MiB))
    server.routes["/zeros.bin"] = lambda h: send_encoded(h, body, "gzip")
    fetched = fetch(server.url("/zeros.bin"), Policy(2 * MiB, timeout=10, allow_loopback=True))
    assert fetched.content == bytes(2 * MiB)


def test_a_file_one_byte_over_the_cap_once_decoded_fails(server: LocalServer) -> None:
    body = b"".join(gzip_of_zeros(2 * MiB))
    server.routes["/zeros.bin"] = lambda h: send_encoded(h, body, "gzip")
    cap = 2 * MiB - 1
    with pytest.raises(Failed, match=f"larger than the limit of {cap} bytes once decoded"):
        fetch(server.url("/zeros.bin"), Policy(cap, timeout=10, allow_loopback=True))


def test_inflating_is_stopped_at_the_time_limit(server: LocalServer) -> None:
    # 16 KB on the wire; once two codings are undone, 16 GB of empty deflate blocks (5 bytes each,
    # decoding to nothing), then 2 MiB of zeros. Inflating the empty blocks takes far longer than
    # the time limit without nearing the size cap: the time limit must stop it, before the zeros
    # would fail it for its size.
    empty_blocks = b"\x00\x00\x00\xff\xff" * 200_000
    body = b"".join(
        gzipped(deflate_repeated(empty_blocks, 16_000, end=_raw_deflate(bytes(2 * MiB))))
    )
    assert len(body) < 64 * 1024
    server.routes["/slow.pdf"] = lambda h: send_encoded(h, body, "deflate, deflate, gzip")
    with pytest.raises(Transient, match="took longer than allowed"):
        fetch(server.url("/slow.pdf"), Policy(MiB, timeout=1, allow_loopback=True))
