from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.list_buckets_response_200_buckets_item import (
        ListBucketsResponse200BucketsItem,
    )


T = TypeVar("T", bound="ListBucketsResponse200")


@_attrs_define
class ListBucketsResponse200:
    """
    Attributes:
        buckets (list[ListBucketsResponse200BucketsItem] | Unset):
    """

    buckets: list[ListBucketsResponse200BucketsItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        buckets: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.buckets, Unset):
            buckets = []
            for buckets_item_data in self.buckets:
                buckets_item = buckets_item_data.to_dict()
                buckets.append(buckets_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if buckets is not UNSET:
            field_dict["buckets"] = buckets

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.list_buckets_response_200_buckets_item import (
            ListBucketsResponse200BucketsItem,
        )

        d = dict(src_dict)
        _buckets = d.pop("buckets", UNSET)
        buckets: list[ListBucketsResponse200BucketsItem] | Unset = UNSET
        if _buckets is not UNSET:
            buckets = []
            for buckets_item_data in _buckets:
                buckets_item = ListBucketsResponse200BucketsItem.from_dict(
                    buckets_item_data
                )

                buckets.append(buckets_item)

        list_buckets_response_200 = cls(
            buckets=buckets,
        )

        list_buckets_response_200.additional_properties = d
        return list_buckets_response_200

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
