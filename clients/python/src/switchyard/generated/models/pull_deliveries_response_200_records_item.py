from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PullDeliveriesResponse200RecordsItem")


@_attrs_define
class PullDeliveriesResponse200RecordsItem:
    """
    Attributes:
        seq (int | Unset):
        kind (str | Unset):
        address (str | Unset):
        payload (Any | Unset):
        idempotency_key (None | str | Unset):
        created_at (str | Unset):
        deliveries (int | Unset):
        lease_expires_at (str | Unset):
    """

    seq: int | Unset = UNSET
    kind: str | Unset = UNSET
    address: str | Unset = UNSET
    payload: Any | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    created_at: str | Unset = UNSET
    deliveries: int | Unset = UNSET
    lease_expires_at: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        seq = self.seq

        kind = self.kind

        address = self.address

        payload = self.payload

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        created_at = self.created_at

        deliveries = self.deliveries

        lease_expires_at = self.lease_expires_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if seq is not UNSET:
            field_dict["seq"] = seq
        if kind is not UNSET:
            field_dict["kind"] = kind
        if address is not UNSET:
            field_dict["address"] = address
        if payload is not UNSET:
            field_dict["payload"] = payload
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if deliveries is not UNSET:
            field_dict["deliveries"] = deliveries
        if lease_expires_at is not UNSET:
            field_dict["lease_expires_at"] = lease_expires_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        seq = d.pop("seq", UNSET)

        kind = d.pop("kind", UNSET)

        address = d.pop("address", UNSET)

        payload = d.pop("payload", UNSET)

        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotency_key", UNSET))

        created_at = d.pop("created_at", UNSET)

        deliveries = d.pop("deliveries", UNSET)

        lease_expires_at = d.pop("lease_expires_at", UNSET)

        pull_deliveries_response_200_records_item = cls(
            seq=seq,
            kind=kind,
            address=address,
            payload=payload,
            idempotency_key=idempotency_key,
            created_at=created_at,
            deliveries=deliveries,
            lease_expires_at=lease_expires_at,
        )

        pull_deliveries_response_200_records_item.additional_properties = d
        return pull_deliveries_response_200_records_item

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
