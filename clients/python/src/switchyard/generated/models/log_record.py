from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.log_record_unreadable import LogRecordUnreadable


T = TypeVar("T", bound="LogRecord")


@_attrs_define
class LogRecord:
    """
    Attributes:
        seq (int | Unset):
        kind (str | Unset):
        address (str | Unset):
        payload (Any | Unset):
        idempotency_key (None | str | Unset):
        created_at (datetime.datetime | Unset):
        unreadable (LogRecordUnreadable | Unset): Present only when the stored record cannot be read back; its payload
            is then null. Over SSE such a record's event name is record_unreadable.
    """

    seq: int | Unset = UNSET
    kind: str | Unset = UNSET
    address: str | Unset = UNSET
    payload: Any | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    unreadable: LogRecordUnreadable | Unset = UNSET
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

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        unreadable: dict[str, Any] | Unset = UNSET
        if not isinstance(self.unreadable, Unset):
            unreadable = self.unreadable.to_dict()

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
        if unreadable is not UNSET:
            field_dict["unreadable"] = unreadable

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.log_record_unreadable import LogRecordUnreadable

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

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        _unreadable = d.pop("unreadable", UNSET)
        unreadable: LogRecordUnreadable | Unset
        if isinstance(_unreadable, Unset):
            unreadable = UNSET
        else:
            unreadable = LogRecordUnreadable.from_dict(_unreadable)

        log_record = cls(
            seq=seq,
            kind=kind,
            address=address,
            payload=payload,
            idempotency_key=idempotency_key,
            created_at=created_at,
            unreadable=unreadable,
        )

        log_record.additional_properties = d
        return log_record

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
