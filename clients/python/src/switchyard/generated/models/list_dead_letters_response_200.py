from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.list_dead_letters_response_200_dead_letters_item import (
        ListDeadLettersResponse200DeadLettersItem,
    )


T = TypeVar("T", bound="ListDeadLettersResponse200")


@_attrs_define
class ListDeadLettersResponse200:
    """
    Attributes:
        dead_letters (list[ListDeadLettersResponse200DeadLettersItem] | Unset):
        next_cursor (int | None | Unset):
    """

    dead_letters: list[ListDeadLettersResponse200DeadLettersItem] | Unset = UNSET
    next_cursor: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        dead_letters: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.dead_letters, Unset):
            dead_letters = []
            for dead_letters_item_data in self.dead_letters:
                dead_letters_item = dead_letters_item_data.to_dict()
                dead_letters.append(dead_letters_item)

        next_cursor: int | None | Unset
        if isinstance(self.next_cursor, Unset):
            next_cursor = UNSET
        else:
            next_cursor = self.next_cursor

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if dead_letters is not UNSET:
            field_dict["dead_letters"] = dead_letters
        if next_cursor is not UNSET:
            field_dict["next_cursor"] = next_cursor

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.list_dead_letters_response_200_dead_letters_item import (
            ListDeadLettersResponse200DeadLettersItem,
        )

        d = dict(src_dict)
        _dead_letters = d.pop("dead_letters", UNSET)
        dead_letters: list[ListDeadLettersResponse200DeadLettersItem] | Unset = UNSET
        if _dead_letters is not UNSET:
            dead_letters = []
            for dead_letters_item_data in _dead_letters:
                dead_letters_item = ListDeadLettersResponse200DeadLettersItem.from_dict(
                    dead_letters_item_data
                )

                dead_letters.append(dead_letters_item)

        def _parse_next_cursor(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor", UNSET))

        list_dead_letters_response_200 = cls(
            dead_letters=dead_letters,
            next_cursor=next_cursor,
        )

        list_dead_letters_response_200.additional_properties = d
        return list_dead_letters_response_200

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
