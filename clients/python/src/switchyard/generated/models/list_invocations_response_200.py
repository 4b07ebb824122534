from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.invocation import Invocation


T = TypeVar("T", bound="ListInvocationsResponse200")


@_attrs_define
class ListInvocationsResponse200:
    """
    Attributes:
        invocations (list[Invocation] | Unset):
        next_after (int | None | Unset):
    """

    invocations: list[Invocation] | Unset = UNSET
    next_after: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        invocations: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.invocations, Unset):
            invocations = []
            for invocations_item_data in self.invocations:
                invocations_item = invocations_item_data.to_dict()
                invocations.append(invocations_item)

        next_after: int | None | Unset
        if isinstance(self.next_after, Unset):
            next_after = UNSET
        else:
            next_after = self.next_after

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if invocations is not UNSET:
            field_dict["invocations"] = invocations
        if next_after is not UNSET:
            field_dict["next_after"] = next_after

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.invocation import Invocation

        d = dict(src_dict)
        _invocations = d.pop("invocations", UNSET)
        invocations: list[Invocation] | Unset = UNSET
        if _invocations is not UNSET:
            invocations = []
            for invocations_item_data in _invocations:
                invocations_item = Invocation.from_dict(invocations_item_data)

                invocations.append(invocations_item)

        def _parse_next_after(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        next_after = _parse_next_after(d.pop("next_after", UNSET))

        list_invocations_response_200 = cls(
            invocations=invocations,
            next_after=next_after,
        )

        list_invocations_response_200.additional_properties = d
        return list_invocations_response_200

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
