from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.create_token_body_role import CreateTokenBodyRole
from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateTokenBody")


@_attrs_define
class CreateTokenBody:
    """
    Attributes:
        name (str):
        role (CreateTokenBodyRole | Unset):
        spaces (list[str] | Unset):
        principal (str | Unset): the owner; role and spaces then default to admin on *
    """

    name: str
    role: CreateTokenBodyRole | Unset = UNSET
    spaces: list[str] | Unset = UNSET
    principal: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        role: str | Unset = UNSET
        if not isinstance(self.role, Unset):
            role = self.role.value

        spaces: list[str] | Unset = UNSET
        if not isinstance(self.spaces, Unset):
            spaces = self.spaces

        principal = self.principal

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if role is not UNSET:
            field_dict["role"] = role
        if spaces is not UNSET:
            field_dict["spaces"] = spaces
        if principal is not UNSET:
            field_dict["principal"] = principal

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name")

        _role = d.pop("role", UNSET)
        role: CreateTokenBodyRole | Unset
        if isinstance(_role, Unset):
            role = UNSET
        else:
            role = CreateTokenBodyRole(_role)

        spaces = cast(list[str], d.pop("spaces", UNSET))

        principal = d.pop("principal", UNSET)

        create_token_body = cls(
            name=name,
            role=role,
            spaces=spaces,
            principal=principal,
        )

        return create_token_body
