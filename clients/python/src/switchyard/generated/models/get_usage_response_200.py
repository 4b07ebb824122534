from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.get_usage_response_200_meters import GetUsageResponse200Meters
    from ..models.get_usage_response_200_stored_bytes import (
        GetUsageResponse200StoredBytes,
    )
    from ..models.quota import Quota


T = TypeVar("T", bound="GetUsageResponse200")


@_attrs_define
class GetUsageResponse200:
    """
    Attributes:
        space (str | Unset):
        quota (Quota | Unset): A space's limits; a limit left out is no limit
        stored_bytes (GetUsageResponse200StoredBytes | Unset):
        instances (int | Unset):
        running_jobs (int | Unset):
        meters (GetUsageResponse200Meters | Unset):
    """

    space: str | Unset = UNSET
    quota: Quota | Unset = UNSET
    stored_bytes: GetUsageResponse200StoredBytes | Unset = UNSET
    instances: int | Unset = UNSET
    running_jobs: int | Unset = UNSET
    meters: GetUsageResponse200Meters | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        space = self.space

        quota: dict[str, Any] | Unset = UNSET
        if not isinstance(self.quota, Unset):
            quota = self.quota.to_dict()

        stored_bytes: dict[str, Any] | Unset = UNSET
        if not isinstance(self.stored_bytes, Unset):
            stored_bytes = self.stored_bytes.to_dict()

        instances = self.instances

        running_jobs = self.running_jobs

        meters: dict[str, Any] | Unset = UNSET
        if not isinstance(self.meters, Unset):
            meters = self.meters.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if space is not UNSET:
            field_dict["space"] = space
        if quota is not UNSET:
            field_dict["quota"] = quota
        if stored_bytes is not UNSET:
            field_dict["stored_bytes"] = stored_bytes
        if instances is not UNSET:
            field_dict["instances"] = instances
        if running_jobs is not UNSET:
            field_dict["running_jobs"] = running_jobs
        if meters is not UNSET:
            field_dict["meters"] = meters

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.get_usage_response_200_meters import GetUsageResponse200Meters
        from ..models.get_usage_response_200_stored_bytes import (
            GetUsageResponse200StoredBytes,
        )
        from ..models.quota import Quota

        d = dict(src_dict)
        space = d.pop("space", UNSET)

        _quota = d.pop("quota", UNSET)
        quota: Quota | Unset
        if isinstance(_quota, Unset):
            quota = UNSET
        else:
            quota = Quota.from_dict(_quota)

        _stored_bytes = d.pop("stored_bytes", UNSET)
        stored_bytes: GetUsageResponse200StoredBytes | Unset
        if isinstance(_stored_bytes, Unset):
            stored_bytes = UNSET
        else:
            stored_bytes = GetUsageResponse200StoredBytes.from_dict(_stored_bytes)

        instances = d.pop("instances", UNSET)

        running_jobs = d.pop("running_jobs", UNSET)

        _meters = d.pop("meters", UNSET)
        meters: GetUsageResponse200Meters | Unset
        if isinstance(_meters, Unset):
            meters = UNSET
        else:
            meters = GetUsageResponse200Meters.from_dict(_meters)

        get_usage_response_200 = cls(
            space=space,
            quota=quota,
            stored_bytes=stored_bytes,
            instances=instances,
            running_jobs=running_jobs,
            meters=meters,
        )

        get_usage_response_200.additional_properties = d
        return get_usage_response_200

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
