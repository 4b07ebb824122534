from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.log_line_level import LogLineLevel
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.log_line_fields import LogLineFields


T = TypeVar("T", bound="LogLine")


@_attrs_define
class LogLine:
    """
    Attributes:
        at_ms (int | Unset): milliseconds since the invocation started
        level (LogLineLevel | Unset):
        message (str | Unset):
        fields (LogLineFields | Unset):
    """

    at_ms: int | Unset = UNSET
    level: LogLineLevel | Unset = UNSET
    message: str | Unset = UNSET
    fields: LogLineFields | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        at_ms = self.at_ms

        level: str | Unset = UNSET
        if not isinstance(self.level, Unset):
            level = self.level.value

        message = self.message

        fields: dict[str, Any] | Unset = UNSET
        if not isinstance(self.fields, Unset):
            fields = self.fields.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if at_ms is not UNSET:
            field_dict["at_ms"] = at_ms
        if level is not UNSET:
            field_dict["level"] = level
        if message is not UNSET:
            field_dict["message"] = message
        if fields is not UNSET:
            field_dict["fields"] = fields

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.log_line_fields import LogLineFields

        d = dict(src_dict)
        at_ms = d.pop("at_ms", UNSET)

        _level = d.pop("level", UNSET)
        level: LogLineLevel | Unset
        if isinstance(_level, Unset):
            level = UNSET
        else:
            level = LogLineLevel(_level)

        message = d.pop("message", UNSET)

        _fields = d.pop("fields", UNSET)
        fields: LogLineFields | Unset
        if isinstance(_fields, Unset):
            fields = UNSET
        else:
            fields = LogLineFields.from_dict(_fields)

        log_line = cls(
            at_ms=at_ms,
            level=level,
            message=message,
            fields=fields,
        )

        log_line.additional_properties = d
        return log_line

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
