from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.run_status import RunStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.run_error import RunError
    from ..models.run_node import RunNode
    from ..models.run_subflow import RunSubflow
    from ..models.run_vars import RunVars


T = TypeVar("T", bound="Run")


@_attrs_define
class Run:
    """
    Attributes:
        id (str | Unset):
        flow (str | Unset):
        flow_version (int | Unset):
        status (RunStatus | Unset):
        state (str | Unset): the machine state the run is in
        input_ (Any | Unset):
        output (Any | Unset): the output of the node that ran last: the run's output once it succeeded
        error (RunError | Unset): {code, message, node} when a node failed
        vars_ (RunVars | Unset):
        nodes (list[RunNode] | Unset):
        attempt (int | Unset):
        subflow (RunSubflow | Unset):
        retry_of (str | Unset):
        rerun_of (str | Unset):
        created_at (datetime.datetime | Unset):
        updated_at (datetime.datetime | Unset):
    """

    id: str | Unset = UNSET
    flow: str | Unset = UNSET
    flow_version: int | Unset = UNSET
    status: RunStatus | Unset = UNSET
    state: str | Unset = UNSET
    input_: Any | Unset = UNSET
    output: Any | Unset = UNSET
    error: RunError | Unset = UNSET
    vars_: RunVars | Unset = UNSET
    nodes: list[RunNode] | Unset = UNSET
    attempt: int | Unset = UNSET
    subflow: RunSubflow | Unset = UNSET
    retry_of: str | Unset = UNSET
    rerun_of: str | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        flow = self.flow

        flow_version = self.flow_version

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        state = self.state

        input_ = self.input_

        output = self.output

        error: dict[str, Any] | Unset = UNSET
        if not isinstance(self.error, Unset):
            error = self.error.to_dict()

        vars_: dict[str, Any] | Unset = UNSET
        if not isinstance(self.vars_, Unset):
            vars_ = self.vars_.to_dict()

        nodes: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.nodes, Unset):
            nodes = []
            for nodes_item_data in self.nodes:
                nodes_item = nodes_item_data.to_dict()
                nodes.append(nodes_item)

        attempt = self.attempt

        subflow: dict[str, Any] | Unset = UNSET
        if not isinstance(self.subflow, Unset):
            subflow = self.subflow.to_dict()

        retry_of = self.retry_of

        rerun_of = self.rerun_of

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        updated_at: str | Unset = UNSET
        if not isinstance(self.updated_at, Unset):
            updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if flow is not UNSET:
            field_dict["flow"] = flow
        if flow_version is not UNSET:
            field_dict["flow_version"] = flow_version
        if status is not UNSET:
            field_dict["status"] = status
        if state is not UNSET:
            field_dict["state"] = state
        if input_ is not UNSET:
            field_dict["input"] = input_
        if output is not UNSET:
            field_dict["output"] = output
        if error is not UNSET:
            field_dict["error"] = error
        if vars_ is not UNSET:
            field_dict["vars"] = vars_
        if nodes is not UNSET:
            field_dict["nodes"] = nodes
        if attempt is not UNSET:
            field_dict["attempt"] = attempt
        if subflow is not UNSET:
            field_dict["subflow"] = subflow
        if retry_of is not UNSET:
            field_dict["retry_of"] = retry_of
        if rerun_of is not UNSET:
            field_dict["rerun_of"] = rerun_of
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.run_error import RunError
        from ..models.run_node import RunNode
        from ..models.run_subflow import RunSubflow
        from ..models.run_vars import RunVars

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        flow = d.pop("flow", UNSET)

        flow_version = d.pop("flow_version", UNSET)

        _status = d.pop("status", UNSET)
        status: RunStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = RunStatus(_status)

        state = d.pop("state", UNSET)

        input_ = d.pop("input", UNSET)

        output = d.pop("output", UNSET)

        _error = d.pop("error", UNSET)
        error: RunError | Unset
        if isinstance(_error, Unset):
            error = UNSET
        else:
            error = RunError.from_dict(_error)

        _vars_ = d.pop("vars", UNSET)
        vars_: RunVars | Unset
        if isinstance(_vars_, Unset):
            vars_ = UNSET
        else:
            vars_ = RunVars.from_dict(_vars_)

        _nodes = d.pop("nodes", UNSET)
        nodes: list[RunNode] | Unset = UNSET
        if _nodes is not UNSET:
            nodes = []
            for nodes_item_data in _nodes:
                nodes_item = RunNode.from_dict(nodes_item_data)

                nodes.append(nodes_item)

        attempt = d.pop("attempt", UNSET)

        _subflow = d.pop("subflow", UNSET)
        subflow: RunSubflow | Unset
        if isinstance(_subflow, Unset):
            subflow = UNSET
        else:
            subflow = RunSubflow.from_dict(_subflow)

        retry_of = d.pop("retry_of", UNSET)

        rerun_of = d.pop("rerun_of", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        _updated_at = d.pop("updated_at", UNSET)
        updated_at: datetime.datetime | Unset
        if isinstance(_updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = isoparse(_updated_at)

        run = cls(
            id=id,
            flow=flow,
            flow_version=flow_version,
            status=status,
            state=state,
            input_=input_,
            output=output,
            error=error,
            vars_=vars_,
            nodes=nodes,
            attempt=attempt,
            subflow=subflow,
            retry_of=retry_of,
            rerun_of=rerun_of,
            created_at=created_at,
            updated_at=updated_at,
        )

        run.additional_properties = d
        return run

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
