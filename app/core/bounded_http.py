"""HTTP answers read only up to a size: a transport for httpx clients that talk to a server we
do not run (a sign-in provider), so that an answer far larger than any real one (a broken or
hostile server) ends in an error instead of filling the memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


class AnswerTooLarge(httpx.ReadError):
    """The answer's body went past the limit (an httpx error: callers already handle those)."""


class _BoundedStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, limit: int, url: httpx.URL) -> None:
        self._stream = stream
        self._limit = limit
        self._url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._stream:
            received += len(chunk)
            if received > self._limit:
                raise AnswerTooLarge(f"the answer of {self._url.host} is over {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class BoundedTransport(httpx.AsyncBaseTransport):
    """`inner` (by default httpx's own), with every answer's body limited to `limit` bytes."""

    def __init__(self, limit: int, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._limit = limit
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response.stream, self._limit, request.url),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
