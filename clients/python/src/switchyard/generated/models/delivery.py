from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_status import DeliveryStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery_attempts_item import DeliveryAttemptsItem
    from ..models.job_error import JobError


T = TypeVar("T", bound="Delivery")


@_attrs_define
class Delivery:
    """
    Attributes:
        id (str):
        webhook_id (str): msg_… : the same on every attempt and re-drive
        status (DeliveryStatus):
        attempt (int):
        max_attempts (int):
        attempts (list[DeliveryAttemptsItem]):
        created_at (str):
        run_at (str):
        seq (int | None | Unset): The log record it carries
        type_ (None | str | Unset): The record's kind
        response_status (int | None | Unset):
        latency_ms (int | None | Unset):
        error (JobError | None | Unset):
        finished_at (None | str | Unset):
    """

    id: str
    webhook_id: str
    status: DeliveryStatus
    attempt: int
    max_attempts: int
    attempts: list[DeliveryAttemptsItem]
    created_at: str
    run_at: str
    seq: int | None | Unset = UNSET
    type_: None | str | Unset = UNSET
    response_status: int | None | Unset = UNSET
    latency_ms: int | None | Unset = UNSET
    error: JobError | None | Unset = UNSET
    finished_at: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_error import JobError

        id = self.id

        webhook_id = self.webhook_id

        status = self.status.value

        attempt = self.attempt

        max_attempts = self.max_attempts

        attempts = []
        for attempts_item_data in self.attempts:
            attempts_item = attempts_item_data.to_dict()
            attempts.append(attempts_item)

        created_at = self.created_at

        run_at = self.run_at

        seq: int | None | Unset
        if isinstance(self.seq, Unset):
            seq = UNSET
        else:
            seq = self.seq

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        response_status: int | None | Unset
        if isinstance(self.response_status, Unset):
            response_status = UNSET
        else:
            response_status = self.response_status

        latency_ms: int | None | Unset
        if isinstance(self.latency_ms, Unset):
            latency_ms = UNSET
        else:
            latency_ms = self.latency_ms

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

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "webhook_id": webhook_id,
                "status": status,
                "attempt": attempt,
                "max_attempts": max_attempts,
                "attempts": attempts,
                "created_at": created_at,
                "run_at": run_at,
            }
        )
        if seq is not UNSET:
            field_dict["seq"] = seq
        if type_ is not UNSET:
            field_dict["type"] = type_
        if response_status is not UNSET:
            field_dict["response_status"] = response_status
        if latency_ms is not UNSET:
            field_dict["latency_ms"] = latency_ms
        if error is not UNSET:
            field_dict["error"] = error
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.delivery_attempts_item import DeliveryAttemptsItem
        from ..models.job_error import JobError

        d = dict(src_dict)
        id = d.pop("id")

        webhook_id = d.pop("webhook_id")

        status = DeliveryStatus(d.pop("status"))

        attempt = d.pop("attempt")

        max_attempts = d.pop("max_attempts")

        attempts = []
        _attempts = d.pop("attempts")
        for attempts_item_data in _attempts:
            attempts_item = DeliveryAttemptsItem.from_dict(attempts_item_data)

            attempts.append(attempts_item)

        created_at = d.pop("created_at")

        run_at = d.pop("run_at")

        def _parse_seq(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        seq = _parse_seq(d.pop("seq", UNSET))

        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("type", UNSET))

        def _parse_response_status(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        response_status = _parse_response_status(d.pop("response_status", UNSET))

        def _parse_latency_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        latency_ms = _parse_latency_ms(d.pop("latency_ms", UNSET))

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

        delivery = cls(
            id=id,
            webhook_id=webhook_id,
            status=status,
            attempt=attempt,
            max_attempts=max_attempts,
            attempts=attempts,
            created_at=created_at,
            run_at=run_at,
            seq=seq,
            type_=type_,
            response_status=response_status,
            latency_ms=latency_ms,
            error=error,
            finished_at=finished_at,
        )

        delivery.additional_properties = d
        return delivery

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
