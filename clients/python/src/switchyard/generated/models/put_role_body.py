from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

T = TypeVar("T", bound="PutRoleBody")


@_attrs_define
class PutRoleBody:
    """
    Attributes:
        permissions (list[str]):
    """

    permissions: list[str]

    def to_dict(self) -> dict[str, Any]:
        permissions = self.permissions

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "permissions": permissions,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        permissions = cast(list[str], d.pop("permissions"))

        put_role_body = cls(
            permissions=permissions,
        )

        return put_role_body
