from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.put_subscription_body_from_type_0 import PutSubscriptionBodyFromType0
from ..types import UNSET, Unset

T = TypeVar("T", bound="PutSubscriptionBody")


@_attrs_define
class PutSubscriptionBody:
    """
    Attributes:
        address (str | Unset): An address or a prefix pattern ending in *
        kind (list[str] | str | Unset):
        state (str | Unset):
        event (str | Unset):
        from_ (int | PutSubscriptionBodyFromType0 | Unset):
        max_deliveries (int | Unset):
        ack_wait (str | Unset): A duration such as 30s
        allow_loss (bool | Unset):
    """

    address: str | Unset = UNSET
    kind: list[str] | str | Unset = UNSET
    state: str | Unset = UNSET
    event: str | Unset = UNSET
    from_: int | PutSubscriptionBodyFromType0 | Unset = UNSET
    max_deliveries: int | Unset = UNSET
    ack_wait: str | Unset = UNSET
    allow_loss: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        address = self.address

        kind: list[str] | str | Unset
        if isinstance(self.kind, Unset):
            kind = UNSET
        elif isinstance(self.kind, list):
            kind = self.kind

        else:
            kind = self.kind

        state = self.state

        event = self.event

        from_: int | str | Unset
        if isinstance(self.from_, Unset):
            from_ = UNSET
        elif isinstance(self.from_, PutSubscriptionBodyFromType0):
            from_ = self.from_.value
        else:
            from_ = self.from_

        max_deliveries = self.max_deliveries

        ack_wait = self.ack_wait

        allow_loss = self.allow_loss

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if address is not UNSET:
            field_dict["address"] = address
        if kind is not UNSET:
            field_dict["kind"] = kind
        if state is not UNSET:
            field_dict["state"] = state
        if event is not UNSET:
            field_dict["event"] = event
        if from_ is not UNSET:
            field_dict["from"] = from_
        if max_deliveries is not UNSET:
            field_dict["max_deliveries"] = max_deliveries
        if ack_wait is not UNSET:
            field_dict["ack_wait"] = ack_wait
        if allow_loss is not UNSET:
            field_dict["allow_loss"] = allow_loss

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        address = d.pop("address", UNSET)

        def _parse_kind(data: object) -> list[str] | str | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                kind_type_1 = cast(list[str], data)

                return kind_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | str | Unset, data)

        kind = _parse_kind(d.pop("kind", UNSET))

        state = d.pop("state", UNSET)

        event = d.pop("event", UNSET)

        def _parse_from_(data: object) -> int | PutSubscriptionBodyFromType0 | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                from_type_0 = PutSubscriptionBodyFromType0(data)

                return from_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(int | PutSubscriptionBodyFromType0 | Unset, data)

        from_ = _parse_from_(d.pop("from", UNSET))

        max_deliveries = d.pop("max_deliveries", UNSET)

        ack_wait = d.pop("ack_wait", UNSET)

        allow_loss = d.pop("allow_loss", UNSET)

        put_subscription_body = cls(
            address=address,
            kind=kind,
            state=state,
            event=event,
            from_=from_,
            max_deliveries=max_deliveries,
            ack_wait=ack_wait,
            allow_loss=allow_loss,
        )

        put_subscription_body.additional_properties = d
        return put_subscription_body

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
