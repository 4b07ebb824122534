from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from dateutil.parser import isoparse

from ..models.enqueue_job_kind import EnqueueJobKind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.retry_policy import RetryPolicy


T = TypeVar("T", bound="EnqueueJob")


@_attrs_define
class EnqueueJob:
    """
    Attributes:
        kind (EnqueueJobKind):
        payload (Any | Unset): what the kind needs. http: {url, method? (GET|POST|PUT|PATCH|DELETE, default POST),
            headers?, body?, timeout_ms? (1-300000, default 30000)}; function: {function, input?, version?}; event:
            {instance: "machine:id", event, payload?}; publish: {topic, message?, key?}; noop: anything
        run_at (datetime.datetime | Unset): due at this time (not with delay_ms)
        delay_ms (int | Unset): due this long from now (not with run_at)
        priority (int | Unset): higher runs first among the space's due jobs (default 0)
        concurrency_key (str | Unset): the fairness lane inside the space
        idempotency_key (str | Unset): a second enqueue with it returns the first job (200, replayed); also the effect
            key
        retry (RetryPolicy | Unset): When a failed attempt is tried again. Durations are humantime strings ("200ms",
            "30s", "1h") or integer milliseconds. Every field may be left out.
    """

    kind: EnqueueJobKind
    payload: Any | Unset = UNSET
    run_at: datetime.datetime | Unset = UNSET
    delay_ms: int | Unset = UNSET
    priority: int | Unset = UNSET
    concurrency_key: str | Unset = UNSET
    idempotency_key: str | Unset = UNSET
    retry: RetryPolicy | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind.value

        payload = self.payload

        run_at: str | Unset = UNSET
        if not isinstance(self.run_at, Unset):
            run_at = self.run_at.isoformat()

        delay_ms = self.delay_ms

        priority = self.priority

        concurrency_key = self.concurrency_key

        idempotency_key = self.idempotency_key

        retry: dict[str, Any] | Unset = UNSET
        if not isinstance(self.retry, Unset):
            retry = self.retry.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
            }
        )
        if payload is not UNSET:
            field_dict["payload"] = payload
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if delay_ms is not UNSET:
            field_dict["delay_ms"] = delay_ms
        if priority is not UNSET:
            field_dict["priority"] = priority
        if concurrency_key is not UNSET:
            field_dict["concurrency_key"] = concurrency_key
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if retry is not UNSET:
            field_dict["retry"] = retry

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.retry_policy import RetryPolicy

        d = dict(src_dict)
        kind = EnqueueJobKind(d.pop("kind"))

        payload = d.pop("payload", UNSET)

        _run_at = d.pop("run_at", UNSET)
        run_at: datetime.datetime | Unset
        if isinstance(_run_at, Unset):
            run_at = UNSET
        else:
            run_at = isoparse(_run_at)

        delay_ms = d.pop("delay_ms", UNSET)

        priority = d.pop("priority", UNSET)

        concurrency_key = d.pop("concurrency_key", UNSET)

        idempotency_key = d.pop("idempotency_key", UNSET)

        _retry = d.pop("retry", UNSET)
        retry: RetryPolicy | Unset
        if isinstance(_retry, Unset):
            retry = UNSET
        else:
            retry = RetryPolicy.from_dict(_retry)

        enqueue_job = cls(
            kind=kind,
            payload=payload,
            run_at=run_at,
            delay_ms=delay_ms,
            priority=priority,
            concurrency_key=concurrency_key,
            idempotency_key=idempotency_key,
            retry=retry,
        )

        return enqueue_job
