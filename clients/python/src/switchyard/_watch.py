"""Server-Sent Events, as the watch routes send them: one event per log record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator


@dataclass
class SseEvent:
    """One event: its ``id`` (the record's seq), ``event`` (its kind) and ``data``."""

    id: str | None
    event: str
    data: str


class SseParser:
    """Turns the lines of an event stream into events (comments and keep-alives skipped)."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> SseEvent | None:
        """Takes one line (without its end); answers an event when the line ends one."""
        if line == "":
            if not self._data:
                self._event = "message"
                return None
            event = SseEvent(self._id, self._event, "\n".join(self._data))
            self._event, self._data = "message", []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


def events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """The events of a stream's lines."""
    parser = SseParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event


def watch_params(
    start: int | str | None,
    address: str | None,
    kind: str | Iterable[str] | None,
    state: str | None,
    event: str | None,
) -> dict[str, str]:
    """The watch route's query."""
    params: dict[str, str] = {}
    if start is not None:
        params["from"] = str(start)
    if address is not None:
        params["address"] = address
    if kind is not None:
        params["kind"] = kind if isinstance(kind, str) else ",".join(kind)
    if state is not None:
        params["state"] = state
    if event is not None:
        params["event"] = event
    return params


def record_of(event: SseEvent) -> dict[str, Any]:
    """The log record an event carries."""
    record: dict[str, Any] = json.loads(event.data)
    return record
