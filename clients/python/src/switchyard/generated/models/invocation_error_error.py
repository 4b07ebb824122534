from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.invocation_error_error_details import InvocationErrorErrorDetails


T = TypeVar("T", bound="InvocationErrorError")


@_attrs_define
class InvocationErrorError:
    """
    Attributes:
        code (str): the function's own code, or function_timeout, function_trapped, function_memory_limit,
            function_fuel_exhausted, capability_denied, function_instantiation_failed, function_capacity_exhausted,
            validation_failed, function_error
        message (str):
        details (InvocationErrorErrorDetails):
    """

    code: str
    message: str
    details: InvocationErrorErrorDetails
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        details = self.details.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "details": details,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.invocation_error_error_details import InvocationErrorErrorDetails

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        details = InvocationErrorErrorDetails.from_dict(d.pop("details"))

        invocation_error_error = cls(
            code=code,
            message=message,
            details=details,
        )

        invocation_error_error.additional_properties = d
        return invocation_error_error

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
