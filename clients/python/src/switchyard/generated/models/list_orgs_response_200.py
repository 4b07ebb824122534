from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.org import Org


T = TypeVar("T", bound="ListOrgsResponse200")


@_attrs_define
class ListOrgsResponse200:
    """
    Attributes:
        orgs (list[Org] | Unset):
    """

    orgs: list[Org] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        orgs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.orgs, Unset):
            orgs = []
            for orgs_item_data in self.orgs:
                orgs_item = orgs_item_data.to_dict()
                orgs.append(orgs_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if orgs is not UNSET:
            field_dict["orgs"] = orgs

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.org import Org

        d = dict(src_dict)
        _orgs = d.pop("orgs", UNSET)
        orgs: list[Org] | Unset = UNSET
        if _orgs is not UNSET:
            orgs = []
            for orgs_item_data in _orgs:
                orgs_item = Org.from_dict(orgs_item_data)

                orgs.append(orgs_item)

        list_orgs_response_200 = cls(
            orgs=orgs,
        )

        list_orgs_response_200.additional_properties = d
        return list_orgs_response_200

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
