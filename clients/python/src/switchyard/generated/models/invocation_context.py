from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.invocation_context_machine import InvocationContextMachine


T = TypeVar("T", bound="InvocationContext")


@_attrs_define
class InvocationContext:
    """
    Attributes:
        trace_id (str | Unset):
        machine (InvocationContextMachine | Unset):
    """

    trace_id: str | Unset = UNSET
    machine: InvocationContextMachine | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        trace_id = self.trace_id

        machine: dict[str, Any] | Unset = UNSET
        if not isinstance(self.machine, Unset):
            machine = self.machine.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if trace_id is not UNSET:
            field_dict["trace_id"] = trace_id
        if machine is not UNSET:
            field_dict["machine"] = machine

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.invocation_context_machine import InvocationContextMachine

        d = dict(src_dict)
        trace_id = d.pop("trace_id", UNSET)

        _machine = d.pop("machine", UNSET)
        machine: InvocationContextMachine | Unset
        if isinstance(_machine, Unset):
            machine = UNSET
        else:
            machine = InvocationContextMachine.from_dict(_machine)

        invocation_context = cls(
            trace_id=trace_id,
            machine=machine,
        )

        invocation_context.additional_properties = d
        return invocation_context

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
