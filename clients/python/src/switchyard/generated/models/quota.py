from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="Quota")


@_attrs_define
class Quota:
    """A space's limits; a limit left out is no limit

    Attributes:
        stored_bytes (int | Unset): Bytes the space may hold: log records, instances' contexts, KV values and history,
            function components, invocation records
        instances (int | Unset): Instances (not deleted) the space may hold
        requests_per_second (int | Unset): API requests a second naming the space, shared among the live nodes
        events_per_second (int | Unset): Instances created, events applied and messages published a second by callers
        concurrent_jobs (int | Unset): Jobs of the space running at once
        function_timeout_ms (int | Unset): The longest an invocation may run; a function's own timeout above it is
            lowered to it
        function_memory_bytes (int | Unset): The most memory an invocation may use
    """

    stored_bytes: int | Unset = UNSET
    instances: int | Unset = UNSET
    requests_per_second: int | Unset = UNSET
    events_per_second: int | Unset = UNSET
    concurrent_jobs: int | Unset = UNSET
    function_timeout_ms: int | Unset = UNSET
    function_memory_bytes: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        stored_bytes = self.stored_bytes

        instances = self.instances

        requests_per_second = self.requests_per_second

        events_per_second = self.events_per_second

        concurrent_jobs = self.concurrent_jobs

        function_timeout_ms = self.function_timeout_ms

        function_memory_bytes = self.function_memory_bytes

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if stored_bytes is not UNSET:
            field_dict["stored_bytes"] = stored_bytes
        if instances is not UNSET:
            field_dict["instances"] = instances
        if requests_per_second is not UNSET:
            field_dict["requests_per_second"] = requests_per_second
        if events_per_second is not UNSET:
            field_dict["events_per_second"] = events_per_second
        if concurrent_jobs is not UNSET:
            field_dict["concurrent_jobs"] = concurrent_jobs
        if function_timeout_ms is not UNSET:
            field_dict["function_timeout_ms"] = function_timeout_ms
        if function_memory_bytes is not UNSET:
            field_dict["function_memory_bytes"] = function_memory_bytes

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        stored_bytes = d.pop("stored_bytes", UNSET)

        instances = d.pop("instances", UNSET)

        requests_per_second = d.pop("requests_per_second", UNSET)

        events_per_second = d.pop("events_per_second", UNSET)

        concurrent_jobs = d.pop("concurrent_jobs", UNSET)

        function_timeout_ms = d.pop("function_timeout_ms", UNSET)

        function_memory_bytes = d.pop("function_memory_bytes", UNSET)

        quota = cls(
            stored_bytes=stored_bytes,
            instances=instances,
            requests_per_second=requests_per_second,
            events_per_second=events_per_second,
            concurrent_jobs=concurrent_jobs,
            function_timeout_ms=function_timeout_ms,
            function_memory_bytes=function_memory_bytes,
        )

        return quota
