from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CreatePrincipalBodyGrantsItem")


@_attrs_define
class CreatePrincipalBodyGrantsItem:
    """
    Attributes:
        role (str):
        pattern (str):
    """

    role: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        role = self.role

        pattern = self.pattern

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "role": role,
                "pattern": pattern,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        role = d.pop("role")

        pattern = d.pop("pattern")

        create_principal_body_grants_item = cls(
            role=role,
            pattern=pattern,
        )

        return create_principal_body_grants_item
