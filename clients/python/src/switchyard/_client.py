"""``Client`` and ``AsyncClient``: the generated operations, called with errors raised as
``SwitchyardError``, retries for calls safe to repeat, and a watch that resumes."""

from __future__ import annotations

import time
import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx

from ._errors import SwitchyardError
from ._retry import AsyncRetryTransport, RetryPolicy, RetryTransport
from ._watch import SseEvent, SseParser, events, record_of, watch_params
from .generated.client import AuthenticatedClient
from .generated.client import Client as AnonymousClient
from .generated.types import Response

DEFAULT_SERVER = "http://127.0.0.1:7400"

T = TypeVar("T")


class SyncOperation(Protocol[T]):
    """A generated operation module (``switchyard.generated.api.<tag>.<operation>``)."""

    def sync_detailed(self, *args: Any, **kwargs: Any) -> Response[T]: ...


class AsyncOperation(Protocol[T]):
    """A generated operation module, called with asyncio."""

    async def asyncio_detailed(self, *args: Any, **kwargs: Any) -> Response[T]: ...


def new_idempotency_key() -> str:
    """A fresh idempotency key: send it with a write, and send it again on a retry of that
    write, so the server applies it once and answers the repeat with the original."""
    return str(uuid.uuid4())


def _check(response: Response[T]) -> T:
    if int(response.status_code) >= 400:
        raise SwitchyardError.from_response(int(response.status_code), response.content, response.headers)
    return response.parsed  # type: ignore[return-value]


def _stream_error(event: SseEvent) -> SwitchyardError:
    return SwitchyardError.from_response(200, event.data.encode())


class Client:
    """Switchyard over HTTP, synchronously.

    ``call(operation, ...)`` runs any generated operation (``switchyard.generated.api``) and
    answers its parsed result, raising ``SwitchyardError`` for an error answer; ``api`` is the
    generated client itself. Calls safe to repeat are retried on ``503`` and failed connections
    (``retries``, ``backoff``, ``max_backoff``; see ``switchyard._retry``).
    """

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        verify: bool | str = True,
    ) -> None:
        self.policy = RetryPolicy(retries, backoff, max_backoff)
        transport = RetryTransport(httpx.HTTPTransport(verify=verify), self.policy)
        args: dict[str, Any] = {"transport": transport}
        self.api: AuthenticatedClient | AnonymousClient
        if token is None:
            self.api = AnonymousClient(base_url=server, timeout=httpx.Timeout(timeout), httpx_args=args)
        else:
            self.api = AuthenticatedClient(
                base_url=server, token=token, timeout=httpx.Timeout(timeout), httpx_args=args
            )

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections."""
        self.api.get_httpx_client().close()

    def call(self, operation: SyncOperation[T], *args: Any, **kwargs: Any) -> T:
        """Runs a generated operation: its parsed answer, or ``SwitchyardError``."""
        return _check(operation.sync_detailed(*args, client=self.api, **kwargs))

    def watch(
        self,
        space: str,
        *,
        start: int | str | None = None,
        address: str | None = None,
        kind: str | Iterable[str] | None = None,
        state: str | None = None,
        event: str | None = None,
        reconnect: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """The space's log records as they are written (from seq ``start``, or ``"now"``, the
        default), filtered as the watch route filters. A dropped connection — the server
        restarting included — is reopened after the last record seen (``Last-Event-ID``), so
        no record is missed or repeated; ``reconnect=False`` ends instead. A stream error
        (``seq_expired``…) raises ``SwitchyardError``."""
        http = self.api.get_httpx_client()
        path = f"/v1/spaces/{quote(space, safe='')}/watch"
        last: str | None = None
        attempt = 0
        while True:
            params = watch_params(start if last is None else None, address, kind, state, event)
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = last
            try:
                with http.stream("GET", path, params=params, headers=headers, timeout=_stream_timeout()) as response:
                    if response.status_code >= 400:
                        body = response.read()
                        error = SwitchyardError.from_response(response.status_code, body, response.headers)
                        if response.status_code != 503 or not reconnect:
                            raise error
                    else:
                        attempt = 0
                        for sse in events(response.iter_lines()):
                            if sse.event == "error":
                                raise _stream_error(sse)
                            if sse.id is not None:
                                last = sse.id
                            yield record_of(sse)
            except httpx.TransportError:
                if not reconnect:
                    raise
            if not reconnect:
                return
            time.sleep(self.policy.wait(attempt))
            attempt = min(attempt + 1, 16)


class AsyncClient:
    """``Client`` for asyncio: ``await call(operation, ...)``, ``async for record in watch(...)``."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        verify: bool | str = True,
    ) -> None:
        self.policy = RetryPolicy(retries, backoff, max_backoff)
        transport = AsyncRetryTransport(httpx.AsyncHTTPTransport(verify=verify), self.policy)
        args: dict[str, Any] = {"transport": transport}
        self.api: AuthenticatedClient | AnonymousClient
        if token is None:
            self.api = AnonymousClient(base_url=server, timeout=httpx.Timeout(timeout), httpx_args=args)
        else:
            self.api = AuthenticatedClient(
                base_url=server, token=token, timeout=httpx.Timeout(timeout), httpx_args=args
            )

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections."""
        await self.api.get_async_httpx_client().aclose()

    async def call(self, operation: AsyncOperation[T], *args: Any, **kwargs: Any) -> T:
        """Runs a generated operation: its parsed answer, or ``SwitchyardError``."""
        return _check(await operation.asyncio_detailed(*args, client=self.api, **kwargs))

    async def watch(
        self,
        space: str,
        *,
        start: int | str | None = None,
        address: str | None = None,
        kind: str | Iterable[str] | None = None,
        state: str | None = None,
        event: str | None = None,
        reconnect: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        """``Client.watch`` for asyncio."""
        http = self.api.get_async_httpx_client()
        path = f"/v1/spaces/{quote(space, safe='')}/watch"
        last: str | None = None
        attempt = 0
        while True:
            params = watch_params(start if last is None else None, address, kind, state, event)
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = last
            try:
                async with http.stream(
                    "GET", path, params=params, headers=headers, timeout=_stream_timeout()
                ) as response:
                    if response.status_code >= 400:
                        body = await response.aread()
                        error = SwitchyardError.from_response(response.status_code, body, response.headers)
                        if response.status_code != 503 or not reconnect:
                            raise error
                    else:
                        attempt = 0
                        parser = SseParser()
                        async for line in response.aiter_lines():
                            sse = parser.feed(line)
                            if sse is None:
                                continue
                            if sse.event == "error":
                                raise _stream_error(sse)
                            if sse.id is not None:
                                last = sse.id
                            yield record_of(sse)
            except httpx.TransportError:
                if not reconnect:
                    raise
            if not reconnect:
                return
            await asyncio.sleep(self.policy.wait(attempt))
            attempt = min(attempt + 1, 16)


def _stream_timeout() -> httpx.Timeout:
    # A watch waits for records as long as it takes; connecting does not.
    return httpx.Timeout(10.0, read=None)
