from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.send_event_payload import SendEventPayload


T = TypeVar("T", bound="SendEvent")


@_attrs_define
class SendEvent:
    """
    Attributes:
        event (str):
        payload (SendEventPayload | Unset):
        idempotency_key (str | Unset):
        expected_state (str | Unset):
        expected_revision (int | Unset):
    """

    event: str
    payload: SendEventPayload | Unset = UNSET
    idempotency_key: str | Unset = UNSET
    expected_state: str | Unset = UNSET
    expected_revision: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        event = self.event

        payload: dict[str, Any] | Unset = UNSET
        if not isinstance(self.payload, Unset):
            payload = self.payload.to_dict()

        idempotency_key = self.idempotency_key

        expected_state = self.expected_state

        expected_revision = self.expected_revision

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
        if expected_state is not UNSET:
            field_dict["expected_state"] = expected_state
        if expected_revision is not UNSET:
            field_dict["expected_revision"] = expected_revision

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.send_event_payload import SendEventPayload

        d = dict(src_dict)
        event = d.pop("event")

        _payload = d.pop("payload", UNSET)
        payload: SendEventPayload | Unset
        if isinstance(_payload, Unset):
            payload = UNSET
        else:
            payload = SendEventPayload.from_dict(_payload)

        idempotency_key = d.pop("idempotency_key", UNSET)

        expected_state = d.pop("expected_state", UNSET)

        expected_revision = d.pop("expected_revision", UNSET)

        send_event = cls(
            event=event,
            payload=payload,
            idempotency_key=idempotency_key,
            expected_state=expected_state,
            expected_revision=expected_revision,
        )

        return send_event
