from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.log_line import LogLine


T = TypeVar("T", bound="InvocationErrorErrorDetails")


@_attrs_define
class InvocationErrorErrorDetails:
    """
    Attributes:
        invocation_id (str | Unset):
        function (str | Unset): space:name
        version (int | Unset):
        retryable (bool | Unset):
        logs (list[LogLine] | Unset):
    """

    invocation_id: str | Unset = UNSET
    function: str | Unset = UNSET
    version: int | Unset = UNSET
    retryable: bool | Unset = UNSET
    logs: list[LogLine] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        invocation_id = self.invocation_id

        function = self.function

        version = self.version

        retryable = self.retryable

        logs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.logs, Unset):
            logs = []
            for logs_item_data in self.logs:
                logs_item = logs_item_data.to_dict()
                logs.append(logs_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if invocation_id is not UNSET:
            field_dict["invocation_id"] = invocation_id
        if function is not UNSET:
            field_dict["function"] = function
        if version is not UNSET:
            field_dict["version"] = version
        if retryable is not UNSET:
            field_dict["retryable"] = retryable
        if logs is not UNSET:
            field_dict["logs"] = logs

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.log_line import LogLine

        d = dict(src_dict)
        invocation_id = d.pop("invocation_id", UNSET)

        function = d.pop("function", UNSET)

        version = d.pop("version", UNSET)

        retryable = d.pop("retryable", UNSET)

        _logs = d.pop("logs", UNSET)
        logs: list[LogLine] | Unset = UNSET
        if _logs is not UNSET:
            logs = []
            for logs_item_data in _logs:
                logs_item = LogLine.from_dict(logs_item_data)

                logs.append(logs_item)

        invocation_error_error_details = cls(
            invocation_id=invocation_id,
            function=function,
            version=version,
            retryable=retryable,
            logs=logs,
        )

        invocation_error_error_details.additional_properties = d
        return invocation_error_error_details

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
