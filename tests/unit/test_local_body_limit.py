"""The local HTTP API's body limit (API Gateway's 10 MB) holds for chunked bodies too, which
carry no Content-Length: the body is read no further than the limit."""

from __future__ import annotations

import io

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from campaign_local.http_api import read_body

LIMIT = 10 * 1024 * 1024


class CountingStream(io.RawIOBase):
    """``size`` bytes of body, counting how many were read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left, 64 * 1024)  # a stream hands out what it has
        buffer[:n] = b"x" * n
        self.left -= n
        self.read_bytes += n
        return n


def chunked_request(stream: CountingStream) -> Request:
    """What werkzeug's server makes of a chunked request: no length, a terminated input."""
    environ = EnvironBuilder(method="POST", path="/x").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    return Request(environ)


def test_a_chunked_body_over_the_limit_is_refused_after_reading_one_byte_past_it() -> None:
    # Given a chunked request of 12 MB
    stream = CountingStream(12 * 1024 * 1024)

    # When its body is read
    body = read_body(chunked_request(stream), LIMIT)

    # Then it is refused, having read no more than the limit and one byte
    assert body is None
    assert stream.read_bytes == LIMIT + 1


def test_a_chunked_body_within_the_limit_is_read_whole() -> None:
    for size in (0, 1, LIMIT):
        stream = CountingStream(size)
        body = read_body(chunked_request(stream), LIMIT)
        assert body is not None and len(body) == size


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    stream = CountingStream(LIMIT + 1)
    environ = EnvironBuilder(method="POST", path="/x").get_environ()
    environ.update({"wsgi.input": stream, "CONTENT_LENGTH": str(LIMIT + 1)})
    assert read_body(Request(environ), LIMIT) is None
    assert stream.read_bytes == 0
