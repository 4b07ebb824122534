from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GetSpaceStatsResponse200Jobs")


@_attrs_define
class GetSpaceStatsResponse200Jobs:
    """
    Attributes:
        pending (int | Unset):
        due (int | Unset):
        running (int | Unset):
        dead (int | Unset):
        oldest_due (None | str | Unset):
    """

    pending: int | Unset = UNSET
    due: int | Unset = UNSET
    running: int | Unset = UNSET
    dead: int | Unset = UNSET
    oldest_due: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        pending = self.pending

        due = self.due

        running = self.running

        dead = self.dead

        oldest_due: None | str | Unset
        if isinstance(self.oldest_due, Unset):
            oldest_due = UNSET
        else:
            oldest_due = self.oldest_due

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if pending is not UNSET:
            field_dict["pending"] = pending
        if due is not UNSET:
            field_dict["due"] = due
        if running is not UNSET:
            field_dict["running"] = running
        if dead is not UNSET:
            field_dict["dead"] = dead
        if oldest_due is not UNSET:
            field_dict["oldest_due"] = oldest_due

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        pending = d.pop("pending", UNSET)

        due = d.pop("due", UNSET)

        running = d.pop("running", UNSET)

        dead = d.pop("dead", UNSET)

        def _parse_oldest_due(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        oldest_due = _parse_oldest_due(d.pop("oldest_due", UNSET))

        get_space_stats_response_200_jobs = cls(
            pending=pending,
            due=due,
            running=running,
            dead=dead,
            oldest_due=oldest_due,
        )

        get_space_stats_response_200_jobs.additional_properties = d
        return get_space_stats_response_200_jobs

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
