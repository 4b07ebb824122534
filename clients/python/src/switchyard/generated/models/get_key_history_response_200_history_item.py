from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.get_key_history_response_200_history_item_operation import (
    GetKeyHistoryResponse200HistoryItemOperation,
)
from ..types import UNSET, Unset

T = TypeVar("T", bound="GetKeyHistoryResponse200HistoryItem")


@_attrs_define
class GetKeyHistoryResponse200HistoryItem:
    """
    Attributes:
        key (str | Unset):
        revision (int | Unset):
        operation (GetKeyHistoryResponse200HistoryItemOperation | Unset):
        content_type (str | Unset):
        value (str | Unset):
        value_base64 (str | Unset):
        updated_at (str | Unset):
        expires_at (str | Unset):
    """

    key: str | Unset = UNSET
    revision: int | Unset = UNSET
    operation: GetKeyHistoryResponse200HistoryItemOperation | Unset = UNSET
    content_type: str | Unset = UNSET
    value: str | Unset = UNSET
    value_base64: str | Unset = UNSET
    updated_at: str | Unset = UNSET
    expires_at: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        revision = self.revision

        operation: str | Unset = UNSET
        if not isinstance(self.operation, Unset):
            operation = self.operation.value

        content_type = self.content_type

        value = self.value

        value_base64 = self.value_base64

        updated_at = self.updated_at

        expires_at = self.expires_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if key is not UNSET:
            field_dict["key"] = key
        if revision is not UNSET:
            field_dict["revision"] = revision
        if operation is not UNSET:
            field_dict["operation"] = operation
        if content_type is not UNSET:
            field_dict["content_type"] = content_type
        if value is not UNSET:
            field_dict["value"] = value
        if value_base64 is not UNSET:
            field_dict["value_base64"] = value_base64
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

        _operation = d.pop("operation", UNSET)
        operation: GetKeyHistoryResponse200HistoryItemOperation | Unset
        if isinstance(_operation, Unset):
            operation = UNSET
        else:
            operation = GetKeyHistoryResponse200HistoryItemOperation(_operation)

        content_type = d.pop("content_type", UNSET)

        value = d.pop("value", UNSET)

        value_base64 = d.pop("value_base64", UNSET)

        updated_at = d.pop("updated_at", UNSET)

        expires_at = d.pop("expires_at", UNSET)

        get_key_history_response_200_history_item = cls(
            key=key,
            revision=revision,
            operation=operation,
            content_type=content_type,
            value=value,
            value_base64=value_base64,
            updated_at=updated_at,
            expires_at=expires_at,
        )

        get_key_history_response_200_history_item.additional_properties = d
        return get_key_history_response_200_history_item

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
