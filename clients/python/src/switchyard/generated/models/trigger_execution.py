from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.trigger_execution_source import TriggerExecutionSource
from ..models.trigger_execution_status import TriggerExecutionStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_error import JobError
    from ..models.trigger_execution_started_type_0 import TriggerExecutionStartedType0


T = TypeVar("T", bound="TriggerExecution")


@_attrs_define
class TriggerExecution:
    """
    Attributes:
        id (str):
        status (TriggerExecutionStatus):
        attempt (int):
        accepted_at (str):
        run_at (str):
        source (TriggerExecutionSource | Unset):
        outcome (None | str | Unset): fired, filtered, skipped, missed, paused or trigger_deleted, once it ran
        started (None | TriggerExecutionStartedType0 | Unset): What it started: run, instance, invocation or topic and
            seq
        reason (None | str | Unset):
        fire_time (None | str | Unset):
        delivery_id (None | str | Unset):
        error (JobError | None | Unset):
        finished_at (None | str | Unset):
        seq (int | None | Unset): An event pattern's log record
    """

    id: str
    status: TriggerExecutionStatus
    attempt: int
    accepted_at: str
    run_at: str
    source: TriggerExecutionSource | Unset = UNSET
    outcome: None | str | Unset = UNSET
    started: None | TriggerExecutionStartedType0 | Unset = UNSET
    reason: None | str | Unset = UNSET
    fire_time: None | str | Unset = UNSET
    delivery_id: None | str | Unset = UNSET
    error: JobError | None | Unset = UNSET
    finished_at: None | str | Unset = UNSET
    seq: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_error import JobError
        from ..models.trigger_execution_started_type_0 import (
            TriggerExecutionStartedType0,
        )

        id = self.id

        status = self.status.value

        attempt = self.attempt

        accepted_at = self.accepted_at

        run_at = self.run_at

        source: str | Unset = UNSET
        if not isinstance(self.source, Unset):
            source = self.source.value

        outcome: None | str | Unset
        if isinstance(self.outcome, Unset):
            outcome = UNSET
        else:
            outcome = self.outcome

        started: dict[str, Any] | None | Unset
        if isinstance(self.started, Unset):
            started = UNSET
        elif isinstance(self.started, TriggerExecutionStartedType0):
            started = self.started.to_dict()
        else:
            started = self.started

        reason: None | str | Unset
        if isinstance(self.reason, Unset):
            reason = UNSET
        else:
            reason = self.reason

        fire_time: None | str | Unset
        if isinstance(self.fire_time, Unset):
            fire_time = UNSET
        else:
            fire_time = self.fire_time

        delivery_id: None | str | Unset
        if isinstance(self.delivery_id, Unset):
            delivery_id = UNSET
        else:
            delivery_id = self.delivery_id

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, JobError):
            error = self.error.to_dict()
        else:
            error = self.error

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        else:
            finished_at = self.finished_at

        seq: int | None | Unset
        if isinstance(self.seq, Unset):
            seq = UNSET
        else:
            seq = self.seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "status": status,
                "attempt": attempt,
                "accepted_at": accepted_at,
                "run_at": run_at,
            }
        )
        if source is not UNSET:
            field_dict["source"] = source
        if outcome is not UNSET:
            field_dict["outcome"] = outcome
        if started is not UNSET:
            field_dict["started"] = started
        if reason is not UNSET:
            field_dict["reason"] = reason
        if fire_time is not UNSET:
            field_dict["fire_time"] = fire_time
        if delivery_id is not UNSET:
            field_dict["delivery_id"] = delivery_id
        if error is not UNSET:
            field_dict["error"] = error
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if seq is not UNSET:
            field_dict["seq"] = seq

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.job_error import JobError
        from ..models.trigger_execution_started_type_0 import (
            TriggerExecutionStartedType0,
        )

        d = dict(src_dict)
        id = d.pop("id")

        status = TriggerExecutionStatus(d.pop("status"))

        attempt = d.pop("attempt")

        accepted_at = d.pop("accepted_at")

        run_at = d.pop("run_at")

        _source = d.pop("source", UNSET)
        source: TriggerExecutionSource | Unset
        if isinstance(_source, Unset):
            source = UNSET
        else:
            source = TriggerExecutionSource(_source)

        def _parse_outcome(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        outcome = _parse_outcome(d.pop("outcome", UNSET))

        def _parse_started(data: object) -> None | TriggerExecutionStartedType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                started_type_0 = TriggerExecutionStartedType0.from_dict(data)

                return started_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TriggerExecutionStartedType0 | Unset, data)

        started = _parse_started(d.pop("started", UNSET))

        def _parse_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reason = _parse_reason(d.pop("reason", UNSET))

        def _parse_fire_time(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        fire_time = _parse_fire_time(d.pop("fire_time", UNSET))

        def _parse_delivery_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        delivery_id = _parse_delivery_id(d.pop("delivery_id", UNSET))

        def _parse_error(data: object) -> JobError | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = JobError.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobError | None | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_finished_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        def _parse_seq(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        seq = _parse_seq(d.pop("seq", UNSET))

        trigger_execution = cls(
            id=id,
            status=status,
            attempt=attempt,
            accepted_at=accepted_at,
            run_at=run_at,
            source=source,
            outcome=outcome,
            started=started,
            reason=reason,
            fire_time=fire_time,
            delivery_id=delivery_id,
            error=error,
            finished_at=finished_at,
            seq=seq,
        )

        trigger_execution.additional_properties = d
        return trigger_execution

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
