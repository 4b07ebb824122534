from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ListDeadLettersResponse200DeadLettersItem")


@_attrs_define
class ListDeadLettersResponse200DeadLettersItem:
    """
    Attributes:
        seq (int | Unset):
        deliveries (int | Unset):
        dead_at (str | Unset):
        record (Any | Unset):
    """

    seq: int | Unset = UNSET
    deliveries: int | Unset = UNSET
    dead_at: str | Unset = UNSET
    record: Any | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        seq = self.seq

        deliveries = self.deliveries

        dead_at = self.dead_at

        record = self.record

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if seq is not UNSET:
            field_dict["seq"] = seq
        if deliveries is not UNSET:
            field_dict["deliveries"] = deliveries
        if dead_at is not UNSET:
            field_dict["dead_at"] = dead_at
        if record is not UNSET:
            field_dict["record"] = record

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        seq = d.pop("seq", UNSET)

        deliveries = d.pop("deliveries", UNSET)

        dead_at = d.pop("dead_at", UNSET)

        record = d.pop("record", UNSET)

        list_dead_letters_response_200_dead_letters_item = cls(
            seq=seq,
            deliveries=deliveries,
            dead_at=dead_at,
            record=record,
        )

        list_dead_letters_response_200_dead_letters_item.additional_properties = d
        return list_dead_letters_response_200_dead_letters_item

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
