from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.trigger_definition import TriggerDefinition
    from ..models.trigger_health import TriggerHealth


T = TypeVar("T", bound="Trigger")


@_attrs_define
class Trigger:
    """
    Attributes:
        name (str):
        version (int):
        paused (bool):
        definition (TriggerDefinition): The trigger as written, normalised (see docs/triggers.md)
        next_fire_times (list[str]):
        health (TriggerHealth):
        created_at (str):
        updated_at (str):
        webhook_url (None | str | Unset): A webhook source's path, /hooks/{space}/{name}
        created (bool | Unset): On a put: whether it is new
        changed (bool | Unset): On a put: whether this made a new version
    """

    name: str
    version: int
    paused: bool
    definition: TriggerDefinition
    next_fire_times: list[str]
    health: TriggerHealth
    created_at: str
    updated_at: str
    webhook_url: None | str | Unset = UNSET
    created: bool | Unset = UNSET
    changed: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        version = self.version

        paused = self.paused

        definition = self.definition.to_dict()

        next_fire_times = self.next_fire_times

        health = self.health.to_dict()

        created_at = self.created_at

        updated_at = self.updated_at

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url

        created = self.created

        changed = self.changed

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "version": version,
                "paused": paused,
                "definition": definition,
                "next_fire_times": next_fire_times,
                "health": health,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url
        if created is not UNSET:
            field_dict["created"] = created
        if changed is not UNSET:
            field_dict["changed"] = changed

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.trigger_definition import TriggerDefinition
        from ..models.trigger_health import TriggerHealth

        d = dict(src_dict)
        name = d.pop("name")

        version = d.pop("version")

        paused = d.pop("paused")

        definition = TriggerDefinition.from_dict(d.pop("definition"))

        next_fire_times = cast(list[str], d.pop("next_fire_times"))

        health = TriggerHealth.from_dict(d.pop("health"))

        created_at = d.pop("created_at")

        updated_at = d.pop("updated_at")

        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))

        created = d.pop("created", UNSET)

        changed = d.pop("changed", UNSET)

        trigger = cls(
            name=name,
            version=version,
            paused=paused,
            definition=definition,
            next_fire_times=next_fire_times,
            health=health,
            created_at=created_at,
            updated_at=updated_at,
            webhook_url=webhook_url,
            created=created,
            changed=changed,
        )

        trigger.additional_properties = d
        return trigger

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
