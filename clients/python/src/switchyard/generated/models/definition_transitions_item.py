from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.definition_transitions_item_assign import (
        DefinitionTransitionsItemAssign,
    )


T = TypeVar("T", bound="DefinitionTransitionsItem")


@_attrs_define
class DefinitionTransitionsItem:
    """
    Attributes:
        from_ (list[str] | str):
        event (str):
        to (str):
        guard (str | Unset): CEL over ctx, event, state
        assign (DefinitionTransitionsItemAssign | Unset):
    """

    from_: list[str] | str
    event: str
    to: str
    guard: str | Unset = UNSET
    assign: DefinitionTransitionsItemAssign | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from_: list[str] | str
        if isinstance(self.from_, list):
            from_ = self.from_

        else:
            from_ = self.from_

        event = self.event

        to = self.to

        guard = self.guard

        assign: dict[str, Any] | Unset = UNSET
        if not isinstance(self.assign, Unset):
            assign = self.assign.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "from": from_,
                "event": event,
                "to": to,
            }
        )
        if guard is not UNSET:
            field_dict["guard"] = guard
        if assign is not UNSET:
            field_dict["assign"] = assign

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.definition_transitions_item_assign import (
            DefinitionTransitionsItemAssign,
        )

        d = dict(src_dict)

        def _parse_from_(data: object) -> list[str] | str:
            try:
                if not isinstance(data, list):
                    raise TypeError()
                from_type_1 = cast(list[str], data)

                return from_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | str, data)

        from_ = _parse_from_(d.pop("from"))

        event = d.pop("event")

        to = d.pop("to")

        guard = d.pop("guard", UNSET)

        _assign = d.pop("assign", UNSET)
        assign: DefinitionTransitionsItemAssign | Unset
        if isinstance(_assign, Unset):
            assign = UNSET
        else:
            assign = DefinitionTransitionsItemAssign.from_dict(_assign)

        definition_transitions_item = cls(
            from_=from_,
            event=event,
            to=to,
            guard=guard,
            assign=assign,
        )

        definition_transitions_item.additional_properties = d
        return definition_transitions_item

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
