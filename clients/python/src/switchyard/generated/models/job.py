from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.job_status import JobStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_attempt import JobAttempt
    from ..models.job_error import JobError
    from ..models.job_lease_type_0 import JobLeaseType0
    from ..models.retry_policy import RetryPolicy


T = TypeVar("T", bound="Job")


@_attrs_define
class Job:
    """
    Attributes:
        id (str | Unset): a UUIDv7
        space (str | Unset):
        kind (str | Unset):
        target (str | Unset): what it acts on: a URL, space:function, space:machine:id, space:topic, noop
        payload (Any | Unset):
        status (JobStatus | Unset):
        priority (int | Unset):
        concurrency_key (None | str | Unset):
        idempotency_key (None | str | Unset):
        effect_key (str | Unset): the idempotency key, or the id: carried by every effect of every attempt
        run_at (datetime.datetime | Unset): when it is (or was) due; after a failed attempt, when it is retried
        attempt (int | Unset): attempts started so far
        retry (RetryPolicy | Unset): When a failed attempt is tried again. Durations are humantime strings ("200ms",
            "30s", "1h") or integer milliseconds. Every field may be left out.
        lease (JobLeaseType0 | None | Unset): while running
        created_at (datetime.datetime | Unset):
        updated_at (datetime.datetime | Unset):
        finished_at (datetime.datetime | None | Unset):
        last_error (JobError | None | Unset):
        result (Any | Unset): what the successful attempt returned (http: {status, body}; event: {from, to, revision,
            seq}; publish: {seq}; function: its output)
        attempts (list[JobAttempt] | Unset): the newest 50, oldest first
        replayed (bool | Unset): only in an enqueue's answer
    """

    id: str | Unset = UNSET
    space: str | Unset = UNSET
    kind: str | Unset = UNSET
    target: str | Unset = UNSET
    payload: Any | Unset = UNSET
    status: JobStatus | Unset = UNSET
    priority: int | Unset = UNSET
    concurrency_key: None | str | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    effect_key: str | Unset = UNSET
    run_at: datetime.datetime | Unset = UNSET
    attempt: int | Unset = UNSET
    retry: RetryPolicy | Unset = UNSET
    lease: JobLeaseType0 | None | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    finished_at: datetime.datetime | None | Unset = UNSET
    last_error: JobError | None | Unset = UNSET
    result: Any | Unset = UNSET
    attempts: list[JobAttempt] | Unset = UNSET
    replayed: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_error import JobError
        from ..models.job_lease_type_0 import JobLeaseType0

        id = self.id

        space = self.space

        kind = self.kind

        target = self.target

        payload = self.payload

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        priority = self.priority

        concurrency_key: None | str | Unset
        if isinstance(self.concurrency_key, Unset):
            concurrency_key = UNSET
        else:
            concurrency_key = self.concurrency_key

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        effect_key = self.effect_key

        run_at: str | Unset = UNSET
        if not isinstance(self.run_at, Unset):
            run_at = self.run_at.isoformat()

        attempt = self.attempt

        retry: dict[str, Any] | Unset = UNSET
        if not isinstance(self.retry, Unset):
            retry = self.retry.to_dict()

        lease: dict[str, Any] | None | Unset
        if isinstance(self.lease, Unset):
            lease = UNSET
        elif isinstance(self.lease, JobLeaseType0):
            lease = self.lease.to_dict()
        else:
            lease = self.lease

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        updated_at: str | Unset = UNSET
        if not isinstance(self.updated_at, Unset):
            updated_at = self.updated_at.isoformat()

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        last_error: dict[str, Any] | None | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        elif isinstance(self.last_error, JobError):
            last_error = self.last_error.to_dict()
        else:
            last_error = self.last_error

        result = self.result

        attempts: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.attempts, Unset):
            attempts = []
            for attempts_item_data in self.attempts:
                attempts_item = attempts_item_data.to_dict()
                attempts.append(attempts_item)

        replayed = self.replayed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if space is not UNSET:
            field_dict["space"] = space
        if kind is not UNSET:
            field_dict["kind"] = kind
        if target is not UNSET:
            field_dict["target"] = target
        if payload is not UNSET:
            field_dict["payload"] = payload
        if status is not UNSET:
            field_dict["status"] = status
        if priority is not UNSET:
            field_dict["priority"] = priority
        if concurrency_key is not UNSET:
            field_dict["concurrency_key"] = concurrency_key
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if effect_key is not UNSET:
            field_dict["effect_key"] = effect_key
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if attempt is not UNSET:
            field_dict["attempt"] = attempt
        if retry is not UNSET:
            field_dict["retry"] = retry
        if lease is not UNSET:
            field_dict["lease"] = lease
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if result is not UNSET:
            field_dict["result"] = result
        if attempts is not UNSET:
            field_dict["attempts"] = attempts
        if replayed is not UNSET:
            field_dict["replayed"] = replayed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.job_attempt import JobAttempt
        from ..models.job_error import JobError
        from ..models.job_lease_type_0 import JobLeaseType0
        from ..models.retry_policy import RetryPolicy

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        space = d.pop("space", UNSET)

        kind = d.pop("kind", UNSET)

        target = d.pop("target", UNSET)

        payload = d.pop("payload", UNSET)

        _status = d.pop("status", UNSET)
        status: JobStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = JobStatus(_status)

        priority = d.pop("priority", UNSET)

        def _parse_concurrency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        concurrency_key = _parse_concurrency_key(d.pop("concurrency_key", UNSET))

        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotency_key", UNSET))

        effect_key = d.pop("effect_key", UNSET)

        _run_at = d.pop("run_at", UNSET)
        run_at: datetime.datetime | Unset
        if isinstance(_run_at, Unset):
            run_at = UNSET
        else:
            run_at = isoparse(_run_at)

        attempt = d.pop("attempt", UNSET)

        _retry = d.pop("retry", UNSET)
        retry: RetryPolicy | Unset
        if isinstance(_retry, Unset):
            retry = UNSET
        else:
            retry = RetryPolicy.from_dict(_retry)

        def _parse_lease(data: object) -> JobLeaseType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                lease_type_0 = JobLeaseType0.from_dict(data)

                return lease_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobLeaseType0 | None | Unset, data)

        lease = _parse_lease(d.pop("lease", UNSET))

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        _updated_at = d.pop("updated_at", UNSET)
        updated_at: datetime.datetime | Unset
        if isinstance(_updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = isoparse(_updated_at)

        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = isoparse(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        def _parse_last_error(data: object) -> JobError | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_error_type_0 = JobError.from_dict(data)

                return last_error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobError | None | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        result = d.pop("result", UNSET)

        _attempts = d.pop("attempts", UNSET)
        attempts: list[JobAttempt] | Unset = UNSET
        if _attempts is not UNSET:
            attempts = []
            for attempts_item_data in _attempts:
                attempts_item = JobAttempt.from_dict(attempts_item_data)

                attempts.append(attempts_item)

        replayed = d.pop("replayed", UNSET)

        job = cls(
            id=id,
            space=space,
            kind=kind,
            target=target,
            payload=payload,
            status=status,
            priority=priority,
            concurrency_key=concurrency_key,
            idempotency_key=idempotency_key,
            effect_key=effect_key,
            run_at=run_at,
            attempt=attempt,
            retry=retry,
            lease=lease,
            created_at=created_at,
            updated_at=updated_at,
            finished_at=finished_at,
            last_error=last_error,
            result=result,
            attempts=attempts,
            replayed=replayed,
        )

        job.additional_properties = d
        return job

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
