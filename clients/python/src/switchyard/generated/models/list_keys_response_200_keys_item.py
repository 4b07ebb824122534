from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ListKeysResponse200KeysItem")


@_attrs_define
class ListKeysResponse200KeysItem:
    """
    Attributes:
        key (str | Unset):
        revision (int | Unset):
        size (int | Unset):
        content_type (str | Unset):
        updated_at (str | Unset):
        expires_at (str | Unset):
    """

    key: str | Unset = UNSET
    revision: int | Unset = UNSET
    size: int | Unset = UNSET
    content_type: str | Unset = UNSET
    updated_at: str | Unset = UNSET
    expires_at: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        revision = self.revision

        size = self.size

        content_type = self.content_type

        updated_at = self.updated_at

        expires_at = self.expires_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if key is not UNSET:
            field_dict["key"] = key
        if revision is not UNSET:
            field_dict["revision"] = revision
        if size is not UNSET:
            field_dict["size"] = size
        if content_type is not UNSET:
            field_dict["content_type"] = content_type
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        key = d.pop("key", UNSET)

        revision = d.pop("revision", UNSET)

        size = d.pop("size", UNSET)

        content_type = d.pop("content_type", UNSET)

        updated_at = d.pop("updated_at", UNSET)

        expires_at = d.pop("expires_at", UNSET)

        list_keys_response_200_keys_item = cls(
            key=key,
            revision=revision,
            size=size,
            content_type=content_type,
            updated_at=updated_at,
            expires_at=expires_at,
        )

        list_keys_response_200_keys_item.additional_properties = d
        return list_keys_response_200_keys_item

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
