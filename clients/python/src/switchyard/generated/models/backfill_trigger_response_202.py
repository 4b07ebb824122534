from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="BackfillTriggerResponse202")


@_attrs_define
class BackfillTriggerResponse202:
    """
    Attributes:
        count (int | Unset):
        enqueued (int | Unset):
        fire_times (list[str] | Unset):
    """

    count: int | Unset = UNSET
    enqueued: int | Unset = UNSET
    fire_times: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        enqueued = self.enqueued

        fire_times: list[str] | Unset = UNSET
        if not isinstance(self.fire_times, Unset):
            fire_times = self.fire_times

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if count is not UNSET:
            field_dict["count"] = count
        if enqueued is not UNSET:
            field_dict["enqueued"] = enqueued
        if fire_times is not UNSET:
            field_dict["fire_times"] = fire_times

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        count = d.pop("count", UNSET)

        enqueued = d.pop("enqueued", UNSET)

        fire_times = cast(list[str], d.pop("fire_times", UNSET))

        backfill_trigger_response_202 = cls(
            count=count,
            enqueued=enqueued,
            fire_times=fire_times,
        )

        backfill_trigger_response_202.additional_properties = d
        return backfill_trigger_response_202

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
