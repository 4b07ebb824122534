from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ListSubscriptionsResponse200SubscriptionsItem")


@_attrs_define
class ListSubscriptionsResponse200SubscriptionsItem:
    """
    Attributes:
        name (str | Unset):
        address (str | Unset):
        max_deliveries (int | Unset):
        ack_wait (str | Unset):
        allow_loss (bool | Unset):
        cursor (int | Unset):
        lag (int | Unset):
        pending (int | Unset):
        leased (int | Unset):
        dead_letters (int | Unset):
        log_newest_seq (int | Unset):
        created_at (str | Unset):
    """

    name: str | Unset = UNSET
    address: str | Unset = UNSET
    max_deliveries: int | Unset = UNSET
    ack_wait: str | Unset = UNSET
    allow_loss: bool | Unset = UNSET
    cursor: int | Unset = UNSET
    lag: int | Unset = UNSET
    pending: int | Unset = UNSET
    leased: int | Unset = UNSET
    dead_letters: int | Unset = UNSET
    log_newest_seq: int | Unset = UNSET
    created_at: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        address = self.address

        max_deliveries = self.max_deliveries

        ack_wait = self.ack_wait

        allow_loss = self.allow_loss

        cursor = self.cursor

        lag = self.lag

        pending = self.pending

        leased = self.leased

        dead_letters = self.dead_letters

        log_newest_seq = self.log_newest_seq

        created_at = self.created_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if address is not UNSET:
            field_dict["address"] = address
        if max_deliveries is not UNSET:
            field_dict["max_deliveries"] = max_deliveries
        if ack_wait is not UNSET:
            field_dict["ack_wait"] = ack_wait
        if allow_loss is not UNSET:
            field_dict["allow_loss"] = allow_loss
        if cursor is not UNSET:
            field_dict["cursor"] = cursor
        if lag is not UNSET:
            field_dict["lag"] = lag
        if pending is not UNSET:
            field_dict["pending"] = pending
        if leased is not UNSET:
            field_dict["leased"] = leased
        if dead_letters is not UNSET:
            field_dict["dead_letters"] = dead_letters
        if log_newest_seq is not UNSET:
            field_dict["log_newest_seq"] = log_newest_seq
        if created_at is not UNSET:
            field_dict["created_at"] = created_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name", UNSET)

        address = d.pop("address", UNSET)

        max_deliveries = d.pop("max_deliveries", UNSET)

        ack_wait = d.pop("ack_wait", UNSET)

        allow_loss = d.pop("allow_loss", UNSET)

        cursor = d.pop("cursor", UNSET)

        lag = d.pop("lag", UNSET)

        pending = d.pop("pending", UNSET)

        leased = d.pop("leased", UNSET)

        dead_letters = d.pop("dead_letters", UNSET)

        log_newest_seq = d.pop("log_newest_seq", UNSET)

        created_at = d.pop("created_at", UNSET)

        list_subscriptions_response_200_subscriptions_item = cls(
            name=name,
            address=address,
            max_deliveries=max_deliveries,
            ack_wait=ack_wait,
            allow_loss=allow_loss,
            cursor=cursor,
            lag=lag,
            pending=pending,
            leased=leased,
            dead_letters=dead_letters,
            log_newest_seq=log_newest_seq,
            created_at=created_at,
        )

        list_subscriptions_response_200_subscriptions_item.additional_properties = d
        return list_subscriptions_response_200_subscriptions_item

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
