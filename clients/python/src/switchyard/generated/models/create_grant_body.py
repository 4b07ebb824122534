from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CreateGrantBody")


@_attrs_define
class CreateGrantBody:
    """
    Attributes:
        principal (str):
        role (str):
        pattern (str):
    """

    principal: str
    role: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        principal = self.principal

        role = self.role

        pattern = self.pattern

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "principal": principal,
                "role": role,
                "pattern": pattern,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        principal = d.pop("principal")

        role = d.pop("role")

        pattern = d.pop("pattern")

        create_grant_body = cls(
            principal=principal,
            role=role,
            pattern=pattern,
        )

        return create_grant_body
