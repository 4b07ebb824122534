from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="AckDeliveriesResponse200")


@_attrs_define
class AckDeliveriesResponse200:
    """
    Attributes:
        acked (int): How many were acked
        acked_seqs (list[int]):
        not_pending (list[int]):
    """

    acked: int
    acked_seqs: list[int]
    not_pending: list[int]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        acked = self.acked

        acked_seqs = self.acked_seqs

        not_pending = self.not_pending

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "acked": acked,
                "acked_seqs": acked_seqs,
                "not_pending": not_pending,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        acked = d.pop("acked")

        acked_seqs = cast(list[int], d.pop("acked_seqs"))

        not_pending = cast(list[int], d.pop("not_pending"))

        ack_deliveries_response_200 = cls(
            acked=acked,
            acked_seqs=acked_seqs,
            not_pending=not_pending,
        )

        ack_deliveries_response_200.additional_properties = d
        return ack_deliveries_response_200

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
