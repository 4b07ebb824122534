from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GetUsageResponse200Meters")


@_attrs_define
class GetUsageResponse200Meters:
    """
    Attributes:
        requests (int | Unset):
        events (int | Unset):
        refused (int | Unset):
        invocations (int | Unset):
        function_ms (int | Unset):
    """

    requests: int | Unset = UNSET
    events: int | Unset = UNSET
    refused: int | Unset = UNSET
    invocations: int | Unset = UNSET
    function_ms: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        requests = self.requests

        events = self.events

        refused = self.refused

        invocations = self.invocations

        function_ms = self.function_ms

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if requests is not UNSET:
            field_dict["requests"] = requests
        if events is not UNSET:
            field_dict["events"] = events
        if refused is not UNSET:
            field_dict["refused"] = refused
        if invocations is not UNSET:
            field_dict["invocations"] = invocations
        if function_ms is not UNSET:
            field_dict["function_ms"] = function_ms

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        requests = d.pop("requests", UNSET)

        events = d.pop("events", UNSET)

        refused = d.pop("refused", UNSET)

        invocations = d.pop("invocations", UNSET)

        function_ms = d.pop("function_ms", UNSET)

        get_usage_response_200_meters = cls(
            requests=requests,
            events=events,
            refused=refused,
            invocations=invocations,
            function_ms=function_ms,
        )

        get_usage_response_200_meters.additional_properties = d
        return get_usage_response_200_meters

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
