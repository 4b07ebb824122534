"""Errors the server answers, as exceptions that carry their stable code."""

from __future__ import annotations

import json
from typing import Any, Mapping


class SwitchyardError(Exception):
    """An error the server answered: its HTTP status, stable ``code`` (``invalid_transition``,
    ``conflict``… — docs/http-api.md lists them), ``message`` and ``details``.

    A function's own error (an invocation that failed) carries the function's code.
    """

    def __init__(self, status: int, code: str, message: str, details: Any = None, retry_after: float | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        #: Seconds to wait before trying again, when the server said (``Retry-After``).
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> "SwitchyardError":
        """The error an answer's body holds (``{"error":{"code","message","details"}}``); a body
        that is no such thing (a proxy's page) becomes code ``http_<status>`` with its text."""
        retry_after = None
        if headers is not None:
            try:
                retry_after = float(headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
        try:
            error = json.loads(body)["error"]
            return cls(status, str(error["code"]), str(error.get("message", "")), error.get("details"), retry_after)
        except (ValueError, KeyError, TypeError):
            text = body.decode("utf-8", "replace")[:500]
            return cls(status, f"http_{status}", text or f"HTTP {status}", None, retry_after)
