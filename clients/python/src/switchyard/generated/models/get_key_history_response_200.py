from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.get_key_history_response_200_history_item import (
        GetKeyHistoryResponse200HistoryItem,
    )


T = TypeVar("T", bound="GetKeyHistoryResponse200")


@_attrs_define
class GetKeyHistoryResponse200:
    """
    Attributes:
        history (list[GetKeyHistoryResponse200HistoryItem] | Unset):
    """

    history: list[GetKeyHistoryResponse200HistoryItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        history: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.history, Unset):
            history = []
            for history_item_data in self.history:
                history_item = history_item_data.to_dict()
                history.append(history_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if history is not UNSET:
            field_dict["history"] = history

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.get_key_history_response_200_history_item import (
            GetKeyHistoryResponse200HistoryItem,
        )

        d = dict(src_dict)
        _history = d.pop("history", UNSET)
        history: list[GetKeyHistoryResponse200HistoryItem] | Unset = UNSET
        if _history is not UNSET:
            history = []
            for history_item_data in _history:
                history_item = GetKeyHistoryResponse200HistoryItem.from_dict(
                    history_item_data
                )

                history.append(history_item)

        get_key_history_response_200 = cls(
            history=history,
        )

        get_key_history_response_200.additional_properties = d
        return get_key_history_response_200

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
