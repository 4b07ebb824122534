from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.token_role import TokenRole
from ..types import UNSET, Unset

T = TypeVar("T", bound="Token")


@_attrs_define
class Token:
    """
    Attributes:
        id (str | Unset):
        name (str | Unset):
        role (TokenRole | Unset):
        spaces (list[str] | Unset):
        created_at (datetime.datetime | Unset):
        revoked_at (None | str | Unset):
        token (str | Unset): the secret; only when created
        principal (None | str | Unset): the user or service account it belongs to; null for a standalone token
        expires_at (datetime.datetime | None | Unset): when a sign-in session ends
        session (bool | Unset): whether a sign-in made it
    """

    id: str | Unset = UNSET
    name: str | Unset = UNSET
    role: TokenRole | Unset = UNSET
    spaces: list[str] | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    revoked_at: None | str | Unset = UNSET
    token: str | Unset = UNSET
    principal: None | str | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    session: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        role: str | Unset = UNSET
        if not isinstance(self.role, Unset):
            role = self.role.value

        spaces: list[str] | Unset = UNSET
        if not isinstance(self.spaces, Unset):
            spaces = self.spaces

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        revoked_at: None | str | Unset
        if isinstance(self.revoked_at, Unset):
            revoked_at = UNSET
        else:
            revoked_at = self.revoked_at

        token = self.token

        principal: None | str | Unset
        if isinstance(self.principal, Unset):
            principal = UNSET
        else:
            principal = self.principal

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        session = self.session

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if name is not UNSET:
            field_dict["name"] = name
        if role is not UNSET:
            field_dict["role"] = role
        if spaces is not UNSET:
            field_dict["spaces"] = spaces
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if revoked_at is not UNSET:
            field_dict["revoked_at"] = revoked_at
        if token is not UNSET:
            field_dict["token"] = token
        if principal is not UNSET:
            field_dict["principal"] = principal
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if session is not UNSET:
            field_dict["session"] = session

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = d.pop("id", UNSET)

        name = d.pop("name", UNSET)

        _role = d.pop("role", UNSET)
        role: TokenRole | Unset
        if isinstance(_role, Unset):
            role = UNSET
        else:
            role = TokenRole(_role)

        spaces = cast(list[str], d.pop("spaces", UNSET))

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        def _parse_revoked_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revoked_at = _parse_revoked_at(d.pop("revoked_at", UNSET))

        token = d.pop("token", UNSET)

        def _parse_principal(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        principal = _parse_principal(d.pop("principal", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = isoparse(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        session = d.pop("session", UNSET)

        token = cls(
            id=id,
            name=name,
            role=role,
            spaces=spaces,
            created_at=created_at,
            revoked_at=revoked_at,
            token=token,
            principal=principal,
            expires_at=expires_at,
            session=session,
        )

        token.additional_properties = d
        return token

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
