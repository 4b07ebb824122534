from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.publish_message_body_headers import PublishMessageBodyHeaders


T = TypeVar("T", bound="PublishMessageBody")


@_attrs_define
class PublishMessageBody:
    """
    Attributes:
        payload (Any):
        key (str | Unset):
        headers (PublishMessageBodyHeaders | Unset):
        idempotency_key (str | Unset):
    """

    payload: Any
    key: str | Unset = UNSET
    headers: PublishMessageBodyHeaders | Unset = UNSET
    idempotency_key: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        payload = self.payload

        key = self.key

        headers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.headers, Unset):
            headers = self.headers.to_dict()

        idempotency_key = self.idempotency_key

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "payload": payload,
            }
        )
        if key is not UNSET:
            field_dict["key"] = key
        if headers is not UNSET:
            field_dict["headers"] = headers
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.publish_message_body_headers import PublishMessageBodyHeaders

        d = dict(src_dict)
        payload = d.pop("payload")

        key = d.pop("key", UNSET)

        _headers = d.pop("headers", UNSET)
        headers: PublishMessageBodyHeaders | Unset
        if isinstance(_headers, Unset):
            headers = UNSET
        else:
            headers = PublishMessageBodyHeaders.from_dict(_headers)

        idempotency_key = d.pop("idempotency_key", UNSET)

        publish_message_body = cls(
            payload=payload,
            key=key,
            headers=headers,
            idempotency_key=idempotency_key,
        )

        return publish_message_body
