from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.get_space_stats_response_200_instances_item import (
        GetSpaceStatsResponse200InstancesItem,
    )
    from ..models.get_space_stats_response_200_jobs import GetSpaceStatsResponse200Jobs


T = TypeVar("T", bound="GetSpaceStatsResponse200")


@_attrs_define
class GetSpaceStatsResponse200:
    """
    Attributes:
        instances (list[GetSpaceStatsResponse200InstancesItem] | Unset):
        jobs (GetSpaceStatsResponse200Jobs | Unset):
    """

    instances: list[GetSpaceStatsResponse200InstancesItem] | Unset = UNSET
    jobs: GetSpaceStatsResponse200Jobs | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        instances: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.instances, Unset):
            instances = []
            for instances_item_data in self.instances:
                instances_item = instances_item_data.to_dict()
                instances.append(instances_item)

        jobs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.jobs, Unset):
            jobs = self.jobs.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if instances is not UNSET:
            field_dict["instances"] = instances
        if jobs is not UNSET:
            field_dict["jobs"] = jobs

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.get_space_stats_response_200_instances_item import (
            GetSpaceStatsResponse200InstancesItem,
        )
        from ..models.get_space_stats_response_200_jobs import (
            GetSpaceStatsResponse200Jobs,
        )

        d = dict(src_dict)
        _instances = d.pop("instances", UNSET)
        instances: list[GetSpaceStatsResponse200InstancesItem] | Unset = UNSET
        if _instances is not UNSET:
            instances = []
            for instances_item_data in _instances:
                instances_item = GetSpaceStatsResponse200InstancesItem.from_dict(
                    instances_item_data
                )

                instances.append(instances_item)

        _jobs = d.pop("jobs", UNSET)
        jobs: GetSpaceStatsResponse200Jobs | Unset
        if isinstance(_jobs, Unset):
            jobs = UNSET
        else:
            jobs = GetSpaceStatsResponse200Jobs.from_dict(_jobs)

        get_space_stats_response_200 = cls(
            instances=instances,
            jobs=jobs,
        )

        get_space_stats_response_200.additional_properties = d
        return get_space_stats_response_200

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
