"""Retries with backoff and jitter, for calls that are safe to repeat.

A request is retried when the server answered ``503 unavailable`` or the connection failed, and
only when repeating it cannot apply it twice: GET, HEAD, PUT, DELETE and OPTIONS, and a POST that
carries an ``Idempotency-Key`` (the server answers its repeat with the original). A connection
that could not be opened at all is retried for every method (nothing was sent). The wait before
attempt ``n`` is a random time up to ``min(max_backoff, backoff * 2**n)`` ("full jitter"), or
the server's ``Retry-After`` when it gives one.
"""

from __future__ import annotations

import asyncio
import random
import time

import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class RetryPolicy:
    """How many times, and how long to wait between attempts."""

    def __init__(self, retries: int = 4, backoff: float = 0.1, max_backoff: float = 5.0):
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must not be negative")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    def wait(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first)."""
        if response is not None:
            try:
                return min(float(response.headers.get("retry-after", "")), self.max_backoff)
            except ValueError:
                pass
        return random.uniform(0, min(self.max_backoff, self.backoff * (2**attempt)))


def repeatable(request: httpx.Request) -> bool:
    """Whether sending ``request`` twice cannot apply it twice."""
    return request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport with ``RetryPolicy`` for repeatable requests."""

    def __init__(self, inner: httpx.BaseTransport, policy: RetryPolicy):
        self._inner = inner
        self._policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._inner.handle_request(request)
            except httpx.ConnectError:
                if attempt >= self._policy.retries:
                    raise
                time.sleep(self._policy.wait(attempt))
            except httpx.TransportError:
                if attempt >= self._policy.retries or not repeatable(request):
                    raise
                time.sleep(self._policy.wait(attempt))
            else:
                if response.status_code != 503 or attempt >= self._policy.retries or not repeatable(request):
                    return response
                response.close()
                time.sleep(self._policy.wait(attempt, response))
            attempt += 1

    def close(self) -> None:
        self._inner.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    """``RetryTransport`` for asyncio."""

    def __init__(self, inner: httpx.AsyncBaseTransport, policy: RetryPolicy):
        self._inner = inner
        self._policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.ConnectError:
                if attempt >= self._policy.retries:
                    raise
                await asyncio.sleep(self._policy.wait(attempt))
            except httpx.TransportError:
                if attempt >= self._policy.retries or not repeatable(request):
                    raise
                await asyncio.sleep(self._policy.wait(attempt))
            else:
                if response.status_code != 503 or attempt >= self._policy.retries or not repeatable(request):
                    return response
                await response.aclose()
                await asyncio.sleep(self._policy.wait(attempt, response))
            attempt += 1

    async def aclose(self) -> None:
        await self._inner.aclose()
