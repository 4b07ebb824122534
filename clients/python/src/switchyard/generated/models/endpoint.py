from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.endpoint_definition import EndpointDefinition
    from ..models.endpoint_health import EndpointHealth


T = TypeVar("T", bound="Endpoint")


@_attrs_define
class Endpoint:
    """
    Attributes:
        name (str):
        version (int):
        enabled (bool):
        definition (EndpointDefinition): The endpoint as written, normalised (see docs/triggers.md)
        health (EndpointHealth):
        created_at (str):
        updated_at (str):
        disabled_reason (None | str | Unset): Why it is disabled: a person's reason, or the 410 Gone that disabled it
        created (bool | Unset): On a put: whether it is new
        changed (bool | Unset): On a put: whether this made a new version
    """

    name: str
    version: int
    enabled: bool
    definition: EndpointDefinition
    health: EndpointHealth
    created_at: str
    updated_at: str
    disabled_reason: None | str | Unset = UNSET
    created: bool | Unset = UNSET
    changed: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        version = self.version

        enabled = self.enabled

        definition = self.definition.to_dict()

        health = self.health.to_dict()

        created_at = self.created_at

        updated_at = self.updated_at

        disabled_reason: None | str | Unset
        if isinstance(self.disabled_reason, Unset):
            disabled_reason = UNSET
        else:
            disabled_reason = self.disabled_reason

        created = self.created

        changed = self.changed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "version": version,
                "enabled": enabled,
                "definition": definition,
                "health": health,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
        if disabled_reason is not UNSET:
            field_dict["disabled_reason"] = disabled_reason
        if created is not UNSET:
            field_dict["created"] = created
        if changed is not UNSET:
            field_dict["changed"] = changed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.endpoint_definition import EndpointDefinition
        from ..models.endpoint_health import EndpointHealth

        d = dict(src_dict)
        name = d.pop("name")

        version = d.pop("version")

        enabled = d.pop("enabled")

        definition = EndpointDefinition.from_dict(d.pop("definition"))

        health = EndpointHealth.from_dict(d.pop("health"))

        created_at = d.pop("created_at")

        updated_at = d.pop("updated_at")

        def _parse_disabled_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        disabled_reason = _parse_disabled_reason(d.pop("disabled_reason", UNSET))

        created = d.pop("created", UNSET)

        changed = d.pop("changed", UNSET)

        endpoint = cls(
            name=name,
            version=version,
            enabled=enabled,
            definition=definition,
            health=health,
            created_at=created_at,
            updated_at=updated_at,
            disabled_reason=disabled_reason,
            created=created,
            changed=changed,
        )

        endpoint.additional_properties = d
        return endpoint

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
