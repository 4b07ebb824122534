from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.create_member_body_kind import CreateMemberBodyKind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_member_body_grants_item import CreateMemberBodyGrantsItem


T = TypeVar("T", bound="CreateMemberBody")


@_attrs_define
class CreateMemberBody:
    """
    Attributes:
        kind (CreateMemberBodyKind):
        name (str):
        password (str | Unset):
        grants (list[CreateMemberBodyGrantsItem] | Unset):
    """

    kind: CreateMemberBodyKind
    name: str
    password: str | Unset = UNSET
    grants: list[CreateMemberBodyGrantsItem] | Unset = UNSET

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
        from ..models.create_member_body_grants_item import CreateMemberBodyGrantsItem

        d = dict(src_dict)
        kind = CreateMemberBodyKind(d.pop("kind"))

        name = d.pop("name")

        password = d.pop("password", UNSET)

        _grants = d.pop("grants", UNSET)
        grants: list[CreateMemberBodyGrantsItem] | Unset = UNSET
        if _grants is not UNSET:
            grants = []
            for grants_item_data in _grants:
                grants_item = CreateMemberBodyGrantsItem.from_dict(grants_item_data)

                grants.append(grants_item)

        create_member_body = cls(
            kind=kind,
            name=name,
            password=password,
            grants=grants,
        )

        return create_member_body
