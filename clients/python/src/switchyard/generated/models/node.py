from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..types import UNSET, Unset

T = TypeVar("T", bound="Node")


@_attrs_define
class Node:
    """
    Attributes:
        id (str | Unset):
        address (str | Unset):
        started_at (datetime.datetime | Unset):
        heartbeat_at (datetime.datetime | Unset):
    """

    id: str | Unset = UNSET
    address: str | Unset = UNSET
    started_at: datetime.datetime | Unset = UNSET
    heartbeat_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        address = self.address

        started_at: str | Unset = UNSET
        if not isinstance(self.started_at, Unset):
            started_at = self.started_at.isoformat()

        heartbeat_at: str | Unset = UNSET
        if not isinstance(self.heartbeat_at, Unset):
            heartbeat_at = self.heartbeat_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if address is not UNSET:
            field_dict["address"] = address
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if heartbeat_at is not UNSET:
            field_dict["heartbeat_at"] = heartbeat_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id", UNSET)

        address = d.pop("address", UNSET)

        _started_at = d.pop("started_at", UNSET)
        started_at: datetime.datetime | Unset
        if isinstance(_started_at, Unset):
            started_at = UNSET
        else:
            started_at = isoparse(_started_at)

        _heartbeat_at = d.pop("heartbeat_at", UNSET)
        heartbeat_at: datetime.datetime | Unset
        if isinstance(_heartbeat_at, Unset):
            heartbeat_at = UNSET
        else:
            heartbeat_at = isoparse(_heartbeat_at)

        node = cls(
            id=id,
            address=address,
            started_at=started_at,
            heartbeat_at=heartbeat_at,
        )

        node.additional_properties = d
        return node

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
