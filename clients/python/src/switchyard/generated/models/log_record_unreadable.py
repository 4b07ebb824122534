from __future__ import annotations

from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    Self,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="LogRecordUnreadable")


@_attrs_define
class LogRecordUnreadable:
    """Present only when the stored record cannot be read back; its payload is then null. Over SSE such a record's event
    name is record_unreadable.

        Attributes:
            code (Literal['record_unreadable'] | Unset):
            message (str | Unset):
    """

    code: Literal["record_unreadable"] | Unset = UNSET
    message: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if code is not UNSET:
            field_dict["code"] = code
        if message is not UNSET:
            field_dict["message"] = message

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        code = cast(Literal["record_unreadable"] | Unset, d.pop("code", UNSET))
        if code != "record_unreadable" and not isinstance(code, Unset):
            raise ValueError(f"code must match const 'record_unreadable', got '{code}'")

        message = d.pop("message", UNSET)

        log_record_unreadable = cls(
            code=code,
            message=message,
        )

        log_record_unreadable.additional_properties = d
        return log_record_unreadable

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
