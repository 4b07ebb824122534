from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DeletePrincipalResponse200")


@_attrs_define
class DeletePrincipalResponse200:
    """
    Attributes:
        deleted (str | Unset):
        tokens_revoked (list[str] | Unset):
    """

    deleted: str | Unset = UNSET
    tokens_revoked: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        deleted = self.deleted

        tokens_revoked: list[str] | Unset = UNSET
        if not isinstance(self.tokens_revoked, Unset):
            tokens_revoked = self.tokens_revoked

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if deleted is not UNSET:
            field_dict["deleted"] = deleted
        if tokens_revoked is not UNSET:
            field_dict["tokens_revoked"] = tokens_revoked

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        deleted = d.pop("deleted", UNSET)

        tokens_revoked = cast(list[str], d.pop("tokens_revoked", UNSET))

        delete_principal_response_200 = cls(
            deleted=deleted,
            tokens_revoked=tokens_revoked,
        )

        delete_principal_response_200.additional_properties = d
        return delete_principal_response_200

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
