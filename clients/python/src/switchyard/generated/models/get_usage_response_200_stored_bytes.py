from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GetUsageResponse200StoredBytes")


@_attrs_define
class GetUsageResponse200StoredBytes:
    """
    Attributes:
        total (int | Unset):
        log (int | Unset):
        instances (int | Unset):
        kv (int | Unset):
        functions (int | Unset):
        invocations (int | Unset):
    """

    total: int | Unset = UNSET
    log: int | Unset = UNSET
    instances: int | Unset = UNSET
    kv: int | Unset = UNSET
    functions: int | Unset = UNSET
    invocations: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.total

        log = self.log

        instances = self.instances

        kv = self.kv

        functions = self.functions

        invocations = self.invocations

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if total is not UNSET:
            field_dict["total"] = total
        if log is not UNSET:
            field_dict["log"] = log
        if instances is not UNSET:
            field_dict["instances"] = instances
        if kv is not UNSET:
            field_dict["kv"] = kv
        if functions is not UNSET:
            field_dict["functions"] = functions
        if invocations is not UNSET:
            field_dict["invocations"] = invocations

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        total = d.pop("total", UNSET)

        log = d.pop("log", UNSET)

        instances = d.pop("instances", UNSET)

        kv = d.pop("kv", UNSET)

        functions = d.pop("functions", UNSET)

        invocations = d.pop("invocations", UNSET)

        get_usage_response_200_stored_bytes = cls(
            total=total,
            log=log,
            instances=instances,
            kv=kv,
            functions=functions,
            invocations=invocations,
        )

        get_usage_response_200_stored_bytes.additional_properties = d
        return get_usage_response_200_stored_bytes

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
