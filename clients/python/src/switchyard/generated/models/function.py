from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.function_grants_item import FunctionGrantsItem
    from ..models.function_settings import FunctionSettings


T = TypeVar("T", bound="Function")


@_attrs_define
class Function:
    """
    Attributes:
        space (str | Unset):
        name (str | Unset):
        address (str | Unset): space:name
        version (int | Unset):
        digest (str | Unset): the component's SHA-256, hex
        size (int | Unset): the component's size in bytes
        created_at (datetime.datetime | Unset):
        settings (FunctionSettings | Unset):
        created (bool | Unset): only in a deploy's answer: whether it made a new version
        grants (list[FunctionGrantsItem] | Unset): The grants its host calls act with, as a principal's are shown: its
            KV buckets' (kv-bucket), then those it was given or the default (function-default); only in a deploy's answer
            and a read of one function
    """

    space: str | Unset = UNSET
    name: str | Unset = UNSET
    address: str | Unset = UNSET
    version: int | Unset = UNSET
    digest: str | Unset = UNSET
    size: int | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    settings: FunctionSettings | Unset = UNSET
    created: bool | Unset = UNSET
    grants: list[FunctionGrantsItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        space = self.space

        name = self.name

        address = self.address

        version = self.version

        digest = self.digest

        size = self.size

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        settings: dict[str, Any] | Unset = UNSET
        if not isinstance(self.settings, Unset):
            settings = self.settings.to_dict()

        created = self.created

        grants: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.grants, Unset):
            grants = []
            for grants_item_data in self.grants:
                grants_item = grants_item_data.to_dict()
                grants.append(grants_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if space is not UNSET:
            field_dict["space"] = space
        if name is not UNSET:
            field_dict["name"] = name
        if address is not UNSET:
            field_dict["address"] = address
        if version is not UNSET:
            field_dict["version"] = version
        if digest is not UNSET:
            field_dict["digest"] = digest
        if size is not UNSET:
            field_dict["size"] = size
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if settings is not UNSET:
            field_dict["settings"] = settings
        if created is not UNSET:
            field_dict["created"] = created
        if grants is not UNSET:
            field_dict["grants"] = grants

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.function_grants_item import FunctionGrantsItem
        from ..models.function_settings import FunctionSettings

        d = dict(src_dict)
        space = d.pop("space", UNSET)

        name = d.pop("name", UNSET)

        address = d.pop("address", UNSET)

        version = d.pop("version", UNSET)

        digest = d.pop("digest", UNSET)

        size = d.pop("size", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        _settings = d.pop("settings", UNSET)
        settings: FunctionSettings | Unset
        if isinstance(_settings, Unset):
            settings = UNSET
        else:
            settings = FunctionSettings.from_dict(_settings)

        created = d.pop("created", UNSET)

        _grants = d.pop("grants", UNSET)
        grants: list[FunctionGrantsItem] | Unset = UNSET
        if _grants is not UNSET:
            grants = []
            for grants_item_data in _grants:
                grants_item = FunctionGrantsItem.from_dict(grants_item_data)

                grants.append(grants_item)

        function = cls(
            space=space,
            name=name,
            address=address,
            version=version,
            digest=digest,
            size=size,
            created_at=created_at,
            settings=settings,
            created=created,
            grants=grants,
        )

        function.additional_properties = d
        return function

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
