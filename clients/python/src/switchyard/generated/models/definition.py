from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.definition_context_schema import DefinitionContextSchema
    from ..models.definition_states_type_1 import DefinitionStatesType1
    from ..models.definition_transitions_item import DefinitionTransitionsItem


T = TypeVar("T", bound="Definition")


@_attrs_define
class Definition:
    """
    Attributes:
        initial (str):
        states (DefinitionStatesType1 | list[str]):
        name (str | Unset):
        final (list[str] | Unset):
        context_schema (DefinitionContextSchema | Unset):
        transitions (list[DefinitionTransitionsItem] | Unset):
    """

    initial: str
    states: DefinitionStatesType1 | list[str]
    name: str | Unset = UNSET
    final: list[str] | Unset = UNSET
    context_schema: DefinitionContextSchema | Unset = UNSET
    transitions: list[DefinitionTransitionsItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        initial = self.initial

        states: dict[str, Any] | list[str]
        if isinstance(self.states, list):
            states = self.states

        else:
            states = self.states.to_dict()

        name = self.name

        final: list[str] | Unset = UNSET
        if not isinstance(self.final, Unset):
            final = self.final

        context_schema: dict[str, Any] | Unset = UNSET
        if not isinstance(self.context_schema, Unset):
            context_schema = self.context_schema.to_dict()

        transitions: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.transitions, Unset):
            transitions = []
            for transitions_item_data in self.transitions:
                transitions_item = transitions_item_data.to_dict()
                transitions.append(transitions_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "initial": initial,
                "states": states,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name
        if final is not UNSET:
            field_dict["final"] = final
        if context_schema is not UNSET:
            field_dict["context_schema"] = context_schema
        if transitions is not UNSET:
            field_dict["transitions"] = transitions

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.definition_context_schema import DefinitionContextSchema
        from ..models.definition_states_type_1 import DefinitionStatesType1
        from ..models.definition_transitions_item import DefinitionTransitionsItem

        d = dict(src_dict)
        initial = d.pop("initial")

        def _parse_states(data: object) -> DefinitionStatesType1 | list[str]:
            try:
                if not isinstance(data, list):
                    raise TypeError()
                states_type_0 = cast(list[str], data)

                return states_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            states_type_1 = DefinitionStatesType1.from_dict(data)

            return states_type_1

        states = _parse_states(d.pop("states"))

        name = d.pop("name", UNSET)

        final = cast(list[str], d.pop("final", UNSET))

        _context_schema = d.pop("context_schema", UNSET)
        context_schema: DefinitionContextSchema | Unset
        if isinstance(_context_schema, Unset):
            context_schema = UNSET
        else:
            context_schema = DefinitionContextSchema.from_dict(_context_schema)

        _transitions = d.pop("transitions", UNSET)
        transitions: list[DefinitionTransitionsItem] | Unset = UNSET
        if _transitions is not UNSET:
            transitions = []
            for transitions_item_data in _transitions:
                transitions_item = DefinitionTransitionsItem.from_dict(
                    transitions_item_data
                )

                transitions.append(transitions_item)

        definition = cls(
            initial=initial,
            states=states,
            name=name,
            final=final,
            context_schema=context_schema,
            transitions=transitions,
        )

        definition.additional_properties = d
        return definition

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
