from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.run_node_status import RunNodeStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.run_node_error import RunNodeError


T = TypeVar("T", bound="RunNode")


@_attrs_define
class RunNode:
    """What one node of a run recorded

    Attributes:
        id (str | Unset):
        kind (str | Unset):
        status (RunNodeStatus | Unset):
        input_ (Any | Unset):
        output (Any | Unset):
        error (RunNodeError | Unset):
        runs (int | Unset): how many times it ran in this run
        attempts (int | Unset): attempts of its last action (function, http)
        started_at (datetime.datetime | Unset):
        ended_at (datetime.datetime | Unset):
    """

    id: str | Unset = UNSET
    kind: str | Unset = UNSET
    status: RunNodeStatus | Unset = UNSET
    input_: Any | Unset = UNSET
    output: Any | Unset = UNSET
    error: RunNodeError | Unset = UNSET
    runs: int | Unset = UNSET
    attempts: int | Unset = UNSET
    started_at: datetime.datetime | Unset = UNSET
    ended_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        kind = self.kind

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        input_ = self.input_

        output = self.output

        error: dict[str, Any] | Unset = UNSET
        if not isinstance(self.error, Unset):
            error = self.error.to_dict()

        runs = self.runs

        attempts = self.attempts

        started_at: str | Unset = UNSET
        if not isinstance(self.started_at, Unset):
            started_at = self.started_at.isoformat()

        ended_at: str | Unset = UNSET
        if not isinstance(self.ended_at, Unset):
            ended_at = self.ended_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if kind is not UNSET:
            field_dict["kind"] = kind
        if status is not UNSET:
            field_dict["status"] = status
        if input_ is not UNSET:
            field_dict["input"] = input_
        if output is not UNSET:
            field_dict["output"] = output
        if error is not UNSET:
            field_dict["error"] = error
        if runs is not UNSET:
            field_dict["runs"] = runs
        if attempts is not UNSET:
            field_dict["attempts"] = attempts
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if ended_at is not UNSET:
            field_dict["ended_at"] = ended_at

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.run_node_error import RunNodeError

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        kind = d.pop("kind", UNSET)

        _status = d.pop("status", UNSET)
        status: RunNodeStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = RunNodeStatus(_status)

        input_ = d.pop("input", UNSET)

        output = d.pop("output", UNSET)

        _error = d.pop("error", UNSET)
        error: RunNodeError | Unset
        if isinstance(_error, Unset):
            error = UNSET
        else:
            error = RunNodeError.from_dict(_error)

        runs = d.pop("runs", UNSET)

        attempts = d.pop("attempts", UNSET)

        _started_at = d.pop("started_at", UNSET)
        started_at: datetime.datetime | Unset
        if isinstance(_started_at, Unset):
            started_at = UNSET
        else:
            started_at = isoparse(_started_at)

        _ended_at = d.pop("ended_at", UNSET)
        ended_at: datetime.datetime | Unset
        if isinstance(_ended_at, Unset):
            ended_at = UNSET
        else:
            ended_at = isoparse(_ended_at)

        run_node = cls(
            id=id,
            kind=kind,
            status=status,
            input_=input_,
            output=output,
            error=error,
            runs=runs,
            attempts=attempts,
            started_at=started_at,
            ended_at=ended_at,
        )

        run_node.additional_properties = d
        return run_node

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
