from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.get_space_stats_response_200_instances_item_status import (
    GetSpaceStatsResponse200InstancesItemStatus,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="GetSpaceStatsResponse200InstancesItem")


@_attrs_define
class GetSpaceStatsResponse200InstancesItem:
    """
    Attributes:
        machine (str | Unset):
        status (GetSpaceStatsResponse200InstancesItemStatus | Unset):
        roots (int | Unset):
        children (int | Unset):
    """

    machine: str | Unset = UNSET
    status: GetSpaceStatsResponse200InstancesItemStatus | Unset = UNSET
    roots: int | Unset = UNSET
    children: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        machine = self.machine

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        roots = self.roots

        children = self.children

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if machine is not UNSET:
            field_dict["machine"] = machine
        if status is not UNSET:
            field_dict["status"] = status
        if roots is not UNSET:
            field_dict["roots"] = roots
        if children is not UNSET:
            field_dict["children"] = children

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        machine = d.pop("machine", UNSET)

        _status = d.pop("status", UNSET)
        status: GetSpaceStatsResponse200InstancesItemStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = GetSpaceStatsResponse200InstancesItemStatus(_status)

        roots = d.pop("roots", UNSET)

        children = d.pop("children", UNSET)

        get_space_stats_response_200_instances_item = cls(
            machine=machine,
            status=status,
            roots=roots,
            children=children,
        )

        get_space_stats_response_200_instances_item.additional_properties = d
        return get_space_stats_response_200_instances_item

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
