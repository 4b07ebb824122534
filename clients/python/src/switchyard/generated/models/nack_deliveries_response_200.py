from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.nack_deliveries_response_200_not_released_item import (
        NackDeliveriesResponse200NotReleasedItem,
    )
    from ..models.nack_deliveries_response_200_released_leases_item import (
        NackDeliveriesResponse200ReleasedLeasesItem,
    )


T = TypeVar("T", bound="NackDeliveriesResponse200")


@_attrs_define
class NackDeliveriesResponse200:
    """
    Attributes:
        released (int): How many leases ended
        released_leases (list[NackDeliveriesResponse200ReleasedLeasesItem]):
        not_released (list[NackDeliveriesResponse200NotReleasedItem]):
    """

    released: int
    released_leases: list[NackDeliveriesResponse200ReleasedLeasesItem]
    not_released: list[NackDeliveriesResponse200NotReleasedItem]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        released = self.released

        released_leases = []
        for released_leases_item_data in self.released_leases:
            released_leases_item = released_leases_item_data.to_dict()
            released_leases.append(released_leases_item)

        not_released = []
        for not_released_item_data in self.not_released:
            not_released_item = not_released_item_data.to_dict()
            not_released.append(not_released_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "released": released,
                "released_leases": released_leases,
                "not_released": not_released,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.nack_deliveries_response_200_not_released_item import (
            NackDeliveriesResponse200NotReleasedItem,
        )
        from ..models.nack_deliveries_response_200_released_leases_item import (
            NackDeliveriesResponse200ReleasedLeasesItem,
        )

        d = dict(src_dict)
        released = d.pop("released")

        released_leases = []
        _released_leases = d.pop("released_leases")
        for released_leases_item_data in _released_leases:
            released_leases_item = (
                NackDeliveriesResponse200ReleasedLeasesItem.from_dict(
                    released_leases_item_data
                )
            )

            released_leases.append(released_leases_item)

        not_released = []
        _not_released = d.pop("not_released")
        for not_released_item_data in _not_released:
            not_released_item = NackDeliveriesResponse200NotReleasedItem.from_dict(
                not_released_item_data
            )

            not_released.append(not_released_item)

        nack_deliveries_response_200 = cls(
            released=released,
            released_leases=released_leases,
            not_released=not_released,
        )

        nack_deliveries_response_200.additional_properties = d
        return nack_deliveries_response_200

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
