from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.flow_summary import FlowSummary


T = TypeVar("T", bound="ListFlowsResponse200")


@_attrs_define
class ListFlowsResponse200:
    """
    Attributes:
        flows (list[FlowSummary] | Unset):
    """

    flows: list[FlowSummary] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        flows: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.flows, Unset):
            flows = []
            for flows_item_data in self.flows:
                flows_item = flows_item_data.to_dict()
                flows.append(flows_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if flows is not UNSET:
            field_dict["flows"] = flows

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.flow_summary import FlowSummary

        d = dict(src_dict)
        _flows = d.pop("flows", UNSET)
        flows: list[FlowSummary] | Unset = UNSET
        if _flows is not UNSET:
            flows = []
            for flows_item_data in _flows:
                flows_item = FlowSummary.from_dict(flows_item_data)

                flows.append(flows_item)

        list_flows_response_200 = cls(
            flows=flows,
        )

        list_flows_response_200.additional_properties = d
        return list_flows_response_200

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
