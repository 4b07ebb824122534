from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.create_principal_body_kind import CreatePrincipalBodyKind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_principal_body_grants_item import CreatePrincipalBodyGrantsItem


T = TypeVar("T", bound="CreatePrincipalBody")


@_attrs_define
class CreatePrincipalBody:
    """
    Attributes:
        kind (CreatePrincipalBodyKind):
        name (str):
        password (str | Unset):
        grants (list[CreatePrincipalBodyGrantsItem] | Unset):
    """

    kind: CreatePrincipalBodyKind
    name: str
    password: str | Unset = UNSET
    grants: list[CreatePrincipalBodyGrantsItem] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind.value

        name = self.name

        password = self.password

        grants: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.grants, Unset):
            grants = []
            for grants_item_data in self.grants:
                grants_item = grants_item_data.to_dict()
                grants.append(grants_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
                "name": name,
            }
        )
        if password is not UNSET:
            field_dict["password"] = password
        if grants is not UNSET:
            field_dict["grants"] = grants

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_principal_body_grants_item import (
            CreatePrincipalBodyGrantsItem,
        )

        d = dict(src_dict)
        kind = CreatePrincipalBodyKind(d.pop("kind"))

        name = d.pop("name")

        password = d.pop("password", UNSET)

        _grants = d.pop("grants", UNSET)
        grants: list[CreatePrincipalBodyGrantsItem] | Unset = UNSET
        if _grants is not UNSET:
            grants = []
            for grants_item_data in _grants:
                grants_item = CreatePrincipalBodyGrantsItem.from_dict(grants_item_data)

                grants.append(grants_item)

        create_principal_body = cls(
            kind=kind,
            name=name,
            password=password,
            grants=grants,
        )

        return create_principal_body
