"""A real HTTP server on 127.0.0.1 serving good, slow, broken and hostile feeds for the tests."""

from __future__ import annotations

import hashlib
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import SAMPLE_DROP
from tools.feedgen import atom, drop_items, rss

ITEMS = drop_items(SAMPLE_DROP.read_bytes())
RSS = rss(ITEMS).encode()
ATOM = atom(ITEMS).encode()
ETAG = '"sample-v1"'
MALFORMED = rss(ITEMS[:2]).replace("</channel></rss>", "<item><title>broken &bad").encode()
HTML_PAGE = b"<!doctype html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"
HUGE_BYTES = 60 * 1024 * 1024
# An Atom entry dated in year 1 at +01:00, which is year 0 in UTC: no Python date holds it.
YEAR_ZERO = (
    atom(ITEMS[:2])
    .replace(
        "<updated>2025-08-29T10:00:00Z</updated><author>",
        "<updated>0001-01-01T00:00:00+01:00</updated><author>",
        1,
    )
    .encode()
)
BAD_LOCATIONS = {
    "/redirect-bad-ipv6": "http://[::1/x",
    "/redirect-long-label": "http://" + "a" * 300 + ".example/x",
    "/redirect-markup": "http://[/]",  # rich markup's closing tag, too
}
# One good item, then items that cannot be articles: each reject keeps the item's own bytes.
UNFIT_ITEMS = {  # guid: (the item as served, the reason it is rejected)
    "empty-1": ('<item><guid isPermaLink="false">empty-1</guid></item>', "empty_item"),
    "title-only-2": (
        "<item><title>Council meets on Monday</title><link>https://f.example/c</link>"
        '<guid isPermaLink="false">title-only-2</guid></item>',
        "no_body",
    ),
    "untitled-3": (
        "<item><description>&lt;p&gt;The council met on Monday.&lt;/p&gt;</description>"
        '<guid isPermaLink="false">untitled-3</guid></item>',
        "no_title",
    ),
}
UNFIT = (
    rss(ITEMS[:1])
    .replace("</channel>", "".join(item for item, _ in UNFIT_ITEMS.values()) + "</channel>")
    .encode()
)
# A Markdown file whose text mentions <item> and <entry>: feedparser finds "entries" in it.
README_MD = (
    b"# Notes\n\nA feed has an <item> per story, an Atom feed an <entry>:\n\n"
    b"- <item><title>one</title></item>\n- <entry>two</entry>\n\nThat is all.\n"
)
BOMB_BYTES = 256 << 20  # what /bomb.xml inflates to
DRIP_SECONDS = 1.0  # between two bytes of /drip.xml and /drip-head.xml


class FeedServer:
    """Routes: /rss.xml (ETag, 304), /live.xml (changes when a test says), /atom.xml,
    /malformed.xml, /flaky.xml (500 then 200), /limited.xml (429 with Retry-After then 200),
    /slow.xml (answers after 40 s), /huge.xml (60 MB), /loop (a redirect loop),
    /page.html and /readme.md (not feeds), /bomb.xml (gzip inflating to 256 MiB), /held.xml
    (answers its first request, later ones once ``release`` is set), /unfit.xml (one
    article, then ``UNFIT_ITEMS``), /year-zero.xml
    (an entry dated in year 0 UTC), the redirects of ``BAD_LOCATIONS`` to unparseable URLs,
    /drip.xml (headers, then the body one byte a second) and /drip-head.xml (the status line
    itself one byte a second)."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.live_items: list[dict] = []  # what /live.xml serves; tests change it
        self.requests: list[dict[str, str]] = []
        self.stop = threading.Event()
        self.release = threading.Event()  # lets /held.xml answer
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                server.requests.append(
                    {"path": path, **{k.lower(): v for k, v in self.headers.items()}}
                )
                name = path.strip("/").replace(".", "_").replace("-", "_")
                route = getattr(server, "route_" + name, None)
                if route is None:
                    self.send_error(404)
                    return
                route(self, server.hits[path])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def send(handler, status: int, body: bytes, content_type: str, **headers) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    def send_unless_unchanged(self, handler, body: bytes, etag: str) -> None:
        """304 when the client holds this ETag, else the feed with it."""
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        self.send(handler, 200, body, "application/rss+xml; charset=utf-8", ETag=etag)

    def route_rss_xml(self, handler, hit: int) -> None:
        self.send_unless_unchanged(handler, RSS, ETAG)

    def route_live_xml(self, handler, hit: int) -> None:
        body = rss(self.live_items).encode()
        self.send_unless_unchanged(handler, body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')

    def route_atom_xml(self, handler, hit: int) -> None:
        self.send(handler, 200, ATOM, "application/atom+xml; charset=utf-8")

    def route_malformed_xml(self, handler, hit: int) -> None:
        self.send(handler, 200, MALFORMED, "application/rss+xml")

    def route_flaky_xml(self, handler, hit: int) -> None:
        if hit == 1:
            self.send(handler, 500, b"oops", "text/plain")
        else:
            self.send(handler, 200, rss(ITEMS[:1]).encode(), "application/rss+xml")

    def route_limited_xml(self, handler, hit: int) -> None:
        if hit == 1:
            self.send(handler, 429, b"slow down", "text/plain", Retry_After="1")
        else:
            self.send(handler, 200, rss(ITEMS[1:2]).encode(), "application/rss+xml")

    def route_slow_xml(self, handler, hit: int) -> None:
        self.stop.wait(40)  # longer than any client timeout; ends early when the server stops
        if not self.stop.is_set():
            self.send(handler, 200, RSS, "application/rss+xml")

    def route_huge_xml(self, handler, hit: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.end_headers()  # no Content-Length: the client must count as it reads
        chunk = b"<!-- padding -->" * 4096
        try:
            for _ in range(HUGE_BYTES // len(chunk)):
                handler.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def route_loop(self, handler, hit: int) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/loop2")
        handler.end_headers()

    def route_loop2(self, handler, hit: int) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/loop")
        handler.end_headers()

    def route_page_html(self, handler, hit: int) -> None:
        self.send(handler, 200, HTML_PAGE, "text/html; charset=utf-8")

    def route_year_zero_xml(self, handler, hit: int) -> None:
        self.send(handler, 200, YEAR_ZERO, "application/atom+xml; charset=utf-8")

    def _redirect_to(self, handler, location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def route_redirect_bad_ipv6(self, handler, hit: int) -> None:
        self._redirect_to(handler, BAD_LOCATIONS["/redirect-bad-ipv6"])

    def route_redirect_long_label(self, handler, hit: int) -> None:
        self._redirect_to(handler, BAD_LOCATIONS["/redirect-long-label"])

    def route_redirect_markup(self, handler, hit: int) -> None:
        self._redirect_to(handler, BAD_LOCATIONS["/redirect-markup"])

    def route_readme_md(self, handler, hit: int) -> None:
        self.send(handler, 200, README_MD, "text/markdown; charset=utf-8")

    def route_bomb_xml(self, handler, hit: int) -> None:
        """BOMB_BYTES of zeros, gzip-encoded: a few hundred KB on the wire."""
        packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        zeros = bytes(1 << 20)
        body = b"".join(packer.compress(zeros) for _ in range(BOMB_BYTES >> 20)) + packer.flush()
        self.send(handler, 200, body, "application/rss+xml", Content_Encoding="gzip")

    def route_held_xml(self, handler, hit: int) -> None:
        """The feed at the first request; later ones wait until a test sets ``release``."""
        if hit > 1:
            self.release.wait(40)
        if not self.stop.is_set():
            self.send(handler, 200, RSS, "application/rss+xml")

    def _drip(self, handler, data: bytes) -> None:
        """``data`` one byte every DRIP_SECONDS, until the client hangs up or the server stops."""
        try:
            for byte in data:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                if self.stop.wait(DRIP_SECONDS):
                    return
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def route_drip_xml(self, handler, hit: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(RSS)))
        handler.end_headers()
        handler.wfile.flush()
        self._drip(handler, RSS)

    def route_drip_head_xml(self, handler, hit: int) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        self._drip(handler, head + f"Content-Length: {len(RSS)}\r\n\r\n".encode() + RSS)

    def route_unfit_xml(self, handler, hit: int) -> None:
        self.send(handler, 200, UNFIT, "application/rss+xml; charset=utf-8")
