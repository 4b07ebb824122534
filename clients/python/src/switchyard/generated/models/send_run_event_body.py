from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.send_run_event_body_payload import SendRunEventBodyPayload


T = TypeVar("T", bound="SendRunEventBody")


@_attrs_define
class SendRunEventBody:
    """
    Attributes:
        event (str):
        payload (SendRunEventBodyPayload | Unset):
        idempotency_key (str | Unset):
    """

    event: str
    payload: SendRunEventBodyPayload | Unset = UNSET
    idempotency_key: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        event = self.event

        payload: dict[str, Any] | Unset = UNSET
        if not isinstance(self.payload, Unset):
            payload = self.payload.to_dict()

        idempotency_key = self.idempotency_key

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "event": event,
            }
        )
        if payload is not UNSET:
            field_dict["payload"] = payload
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.send_run_event_body_payload import SendRunEventBodyPayload

        d = dict(src_dict)
        event = d.pop("event")

        _payload = d.pop("payload", UNSET)
        payload: SendRunEventBodyPayload | Unset
        if isinstance(_payload, Unset):
            payload = UNSET
        else:
            payload = SendRunEventBodyPayload.from_dict(_payload)

        idempotency_key = d.pop("idempotency_key", UNSET)

        send_run_event_body = cls(
            event=event,
            payload=payload,
            idempotency_key=idempotency_key,
        )

        return send_run_event_body
