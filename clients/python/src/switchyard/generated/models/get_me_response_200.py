from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.get_me_response_200_kind import GetMeResponse200Kind
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.get_me_response_200_grants_item import GetMeResponse200GrantsItem
    from ..models.get_me_response_200_scope_type_0_item import (
        GetMeResponse200ScopeType0Item,
    )


T = TypeVar("T", bound="GetMeResponse200")


@_attrs_define
class GetMeResponse200:
    """
    Attributes:
        id (str | Unset):
        kind (GetMeResponse200Kind | Unset):
        name (str | Unset):
        token (str | Unset):
        session (bool | Unset):
        expires_at (datetime.datetime | None | Unset):
        grants (list[GetMeResponse200GrantsItem] | Unset): Its grants, each role with its permissions
        scope (list[GetMeResponse200ScopeType0Item] | None | Unset): The token's own scope when it narrows its
            principal's grants; null otherwise
    """

    id: str | Unset = UNSET
    kind: GetMeResponse200Kind | Unset = UNSET
    name: str | Unset = UNSET
    token: str | Unset = UNSET
    session: bool | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    grants: list[GetMeResponse200GrantsItem] | Unset = UNSET
    scope: list[GetMeResponse200ScopeType0Item] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        kind: str | Unset = UNSET
        if not isinstance(self.kind, Unset):
            kind = self.kind.value

        name = self.name

        token = self.token

        session = self.session

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        grants: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.grants, Unset):
            grants = []
            for grants_item_data in self.grants:
                grants_item = grants_item_data.to_dict()
                grants.append(grants_item)

        scope: list[dict[str, Any]] | None | Unset
        if isinstance(self.scope, Unset):
            scope = UNSET
        elif isinstance(self.scope, list):
            scope = []
            for scope_type_0_item_data in self.scope:
                scope_type_0_item = scope_type_0_item_data.to_dict()
                scope.append(scope_type_0_item)

        else:
            scope = self.scope

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if kind is not UNSET:
            field_dict["kind"] = kind
        if name is not UNSET:
            field_dict["name"] = name
        if token is not UNSET:
            field_dict["token"] = token
        if session is not UNSET:
            field_dict["session"] = session
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if grants is not UNSET:
            field_dict["grants"] = grants
        if scope is not UNSET:
            field_dict["scope"] = scope

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.get_me_response_200_grants_item import GetMeResponse200GrantsItem
        from ..models.get_me_response_200_scope_type_0_item import (
            GetMeResponse200ScopeType0Item,
        )

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        _kind = d.pop("kind", UNSET)
        kind: GetMeResponse200Kind | Unset
        if isinstance(_kind, Unset):
            kind = UNSET
        else:
            kind = GetMeResponse200Kind(_kind)

        name = d.pop("name", UNSET)

        token = d.pop("token", UNSET)

        session = d.pop("session", UNSET)

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

        _grants = d.pop("grants", UNSET)
        grants: list[GetMeResponse200GrantsItem] | Unset = UNSET
        if _grants is not UNSET:
            grants = []
            for grants_item_data in _grants:
                grants_item = GetMeResponse200GrantsItem.from_dict(grants_item_data)

                grants.append(grants_item)

        def _parse_scope(
            data: object,
        ) -> list[GetMeResponse200ScopeType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                scope_type_0 = []
                _scope_type_0 = data
                for scope_type_0_item_data in _scope_type_0:
                    scope_type_0_item = GetMeResponse200ScopeType0Item.from_dict(
                        scope_type_0_item_data
                    )

                    scope_type_0.append(scope_type_0_item)

                return scope_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[GetMeResponse200ScopeType0Item] | None | Unset, data)

        scope = _parse_scope(d.pop("scope", UNSET))

        get_me_response_200 = cls(
            id=id,
            kind=kind,
            name=name,
            token=token,
            session=session,
            expires_at=expires_at,
            grants=grants,
            scope=scope,
        )

        get_me_response_200.additional_properties = d
        return get_me_response_200

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
