from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.instance_pending_item_last_error import InstancePendingItemLastError


T = TypeVar("T", bound="InstancePendingItem")


@_attrs_define
class InstancePendingItem:
    """
    Attributes:
        job (str | Unset):
        kind (str | Unset):
        timer (str | Unset):
        status (str | Unset):
        attempt (int | Unset):
        run_at (datetime.datetime | Unset):
        last_error (InstancePendingItemLastError | Unset):
    """

    job: str | Unset = UNSET
    kind: str | Unset = UNSET
    timer: str | Unset = UNSET
    status: str | Unset = UNSET
    attempt: int | Unset = UNSET
    run_at: datetime.datetime | Unset = UNSET
    last_error: InstancePendingItemLastError | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        job = self.job

        kind = self.kind

        timer = self.timer

        status = self.status

        attempt = self.attempt

        run_at: str | Unset = UNSET
        if not isinstance(self.run_at, Unset):
            run_at = self.run_at.isoformat()

        last_error: dict[str, Any] | Unset = UNSET
        if not isinstance(self.last_error, Unset):
            last_error = self.last_error.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if job is not UNSET:
            field_dict["job"] = job
        if kind is not UNSET:
            field_dict["kind"] = kind
        if timer is not UNSET:
            field_dict["timer"] = timer
        if status is not UNSET:
            field_dict["status"] = status
        if attempt is not UNSET:
            field_dict["attempt"] = attempt
        if run_at is not UNSET:
            field_dict["run_at"] = run_at
        if last_error is not UNSET:
            field_dict["last_error"] = last_error

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.instance_pending_item_last_error import (
            InstancePendingItemLastError,
        )

        d = dict(src_dict)
        job = d.pop("job", UNSET)

        kind = d.pop("kind", UNSET)

        timer = d.pop("timer", UNSET)

        status = d.pop("status", UNSET)

        attempt = d.pop("attempt", UNSET)

        _run_at = d.pop("run_at", UNSET)
        run_at: datetime.datetime | Unset
        if isinstance(_run_at, Unset):
            run_at = UNSET
        else:
            run_at = isoparse(_run_at)

        _last_error = d.pop("last_error", UNSET)
        last_error: InstancePendingItemLastError | Unset
        if isinstance(_last_error, Unset):
            last_error = UNSET
        else:
            last_error = InstancePendingItemLastError.from_dict(_last_error)

        instance_pending_item = cls(
            job=job,
            kind=kind,
            timer=timer,
            status=status,
            attempt=attempt,
            run_at=run_at,
            last_error=last_error,
        )

        instance_pending_item.additional_properties = d
        return instance_pending_item

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
