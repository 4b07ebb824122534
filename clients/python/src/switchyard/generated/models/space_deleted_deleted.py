from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="SpaceDeletedDeleted")


@_attrs_define
class SpaceDeletedDeleted:
    """Per kind: machines and functions by name (every version went), instances and KV keys deleted ones included

    Attributes:
        machines (int):
        instances (int):
        kv_buckets (int):
        kv_keys (int):
        subscriptions (int):
        functions (int):
        invocations (int):
        log_records (int):
        idempotency_keys (int):
    """

    machines: int
    instances: int
    kv_buckets: int
    kv_keys: int
    subscriptions: int
    functions: int
    invocations: int
    log_records: int
    idempotency_keys: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        machines = self.machines

        instances = self.instances

        kv_buckets = self.kv_buckets

        kv_keys = self.kv_keys

        subscriptions = self.subscriptions

        functions = self.functions

        invocations = self.invocations

        log_records = self.log_records

        idempotency_keys = self.idempotency_keys

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "machines": machines,
                "instances": instances,
                "kv_buckets": kv_buckets,
                "kv_keys": kv_keys,
                "subscriptions": subscriptions,
                "functions": functions,
                "invocations": invocations,
                "log_records": log_records,
                "idempotency_keys": idempotency_keys,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        machines = d.pop("machines")

        instances = d.pop("instances")

        kv_buckets = d.pop("kv_buckets")

        kv_keys = d.pop("kv_keys")

        subscriptions = d.pop("subscriptions")

        functions = d.pop("functions")

        invocations = d.pop("invocations")

        log_records = d.pop("log_records")

        idempotency_keys = d.pop("idempotency_keys")

        space_deleted_deleted = cls(
            machines=machines,
            instances=instances,
            kv_buckets=kv_buckets,
            kv_keys=kv_keys,
            subscriptions=subscriptions,
            functions=functions,
            invocations=invocations,
            log_records=log_records,
            idempotency_keys=idempotency_keys,
        )

        space_deleted_deleted.additional_properties = d
        return space_deleted_deleted

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
