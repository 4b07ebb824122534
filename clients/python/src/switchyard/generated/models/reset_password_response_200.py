from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ResetPasswordResponse200")


@_attrs_define
class ResetPasswordResponse200:
    """
    Attributes:
        sessions_revoked (list[str] | Unset):
    """

    sessions_revoked: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        sessions_revoked: list[str] | Unset = UNSET
        if not isinstance(self.sessions_revoked, Unset):
            sessions_revoked = self.sessions_revoked

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if sessions_revoked is not UNSET:
            field_dict["sessions_revoked"] = sessions_revoked

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        sessions_revoked = cast(list[str], d.pop("sessions_revoked", UNSET))

        reset_password_response_200 = cls(
            sessions_revoked=sessions_revoked,
        )

        reset_password_response_200.additional_properties = d
        return reset_password_response_200

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
