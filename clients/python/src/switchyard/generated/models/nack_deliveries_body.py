from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.nack_deliveries_body_leases_item import NackDeliveriesBodyLeasesItem


T = TypeVar("T", bound="NackDeliveriesBody")


@_attrs_define
class NackDeliveriesBody:
    """
    Attributes:
        leases (list[NackDeliveriesBodyLeasesItem] | Unset):
    """

    leases: list[NackDeliveriesBodyLeasesItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        leases: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.leases, Unset):
            leases = []
            for leases_item_data in self.leases:
                leases_item = leases_item_data.to_dict()
                leases.append(leases_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if leases is not UNSET:
            field_dict["leases"] = leases

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.nack_deliveries_body_leases_item import (
            NackDeliveriesBodyLeasesItem,
        )

        d = dict(src_dict)
        _leases = d.pop("leases", UNSET)
        leases: list[NackDeliveriesBodyLeasesItem] | Unset = UNSET
        if _leases is not UNSET:
            leases = []
            for leases_item_data in _leases:
                leases_item = NackDeliveriesBodyLeasesItem.from_dict(leases_item_data)

                leases.append(leases_item)

        nack_deliveries_body = cls(
            leases=leases,
        )

        nack_deliveries_body.additional_properties = d
        return nack_deliveries_body

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
