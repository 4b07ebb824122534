from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.invocation_status import InvocationStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.invocation_context import InvocationContext
    from ..models.invocation_error_type_0 import InvocationErrorType0
    from ..models.log_line import LogLine


T = TypeVar("T", bound="Invocation")


@_attrs_define
class Invocation:
    """
    Attributes:
        id (str | Unset): a UUIDv7
        function (str | Unset): the function's name
        address (str | Unset): space:name
        version (int | Unset):
        status (InvocationStatus | Unset):
        async_ (bool | Unset):
        attempt (int | Unset):
        idempotency_key (None | str | Unset):
        context (InvocationContext | Unset):
        input_content_type (str | Unset):
        input_size (int | Unset):
        output_size (int | Unset):
        output_content_type (str | Unset): with the output (kept for asynchronous invocations, up to 1 MiB)
        output (Any | Unset): JSON for a JSON content type, else a string (UTF-8 output)
        output_base64 (str | Unset): instead of output when it is not UTF-8
        error (InvocationErrorType0 | None | Unset):
        logs (list[LogLine] | Unset):
        created_at (datetime.datetime | Unset):
        finished_at (datetime.datetime | None | Unset):
        duration_us (int | None | Unset):
        seq (int | Unset):
    """

    id: str | Unset = UNSET
    function: str | Unset = UNSET
    address: str | Unset = UNSET
    version: int | Unset = UNSET
    status: InvocationStatus | Unset = UNSET
    async_: bool | Unset = UNSET
    attempt: int | Unset = UNSET
    idempotency_key: None | str | Unset = UNSET
    context: InvocationContext | Unset = UNSET
    input_content_type: str | Unset = UNSET
    input_size: int | Unset = UNSET
    output_size: int | Unset = UNSET
    output_content_type: str | Unset = UNSET
    output: Any | Unset = UNSET
    output_base64: str | Unset = UNSET
    error: InvocationErrorType0 | None | Unset = UNSET
    logs: list[LogLine] | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    finished_at: datetime.datetime | None | Unset = UNSET
    duration_us: int | None | Unset = UNSET
    seq: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.invocation_error_type_0 import InvocationErrorType0

        id = self.id

        function = self.function

        address = self.address

        version = self.version

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        async_ = self.async_

        attempt = self.attempt

        idempotency_key: None | str | Unset
        if isinstance(self.idempotency_key, Unset):
            idempotency_key = UNSET
        else:
            idempotency_key = self.idempotency_key

        context: dict[str, Any] | Unset = UNSET
        if not isinstance(self.context, Unset):
            context = self.context.to_dict()

        input_content_type = self.input_content_type

        input_size = self.input_size

        output_size = self.output_size

        output_content_type = self.output_content_type

        output = self.output

        output_base64 = self.output_base64

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, InvocationErrorType0):
            error = self.error.to_dict()
        else:
            error = self.error

        logs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.logs, Unset):
            logs = []
            for logs_item_data in self.logs:
                logs_item = logs_item_data.to_dict()
                logs.append(logs_item)

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        duration_us: int | None | Unset
        if isinstance(self.duration_us, Unset):
            duration_us = UNSET
        else:
            duration_us = self.duration_us

        seq = self.seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if function is not UNSET:
            field_dict["function"] = function
        if address is not UNSET:
            field_dict["address"] = address
        if version is not UNSET:
            field_dict["version"] = version
        if status is not UNSET:
            field_dict["status"] = status
        if async_ is not UNSET:
            field_dict["async"] = async_
        if attempt is not UNSET:
            field_dict["attempt"] = attempt
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if context is not UNSET:
            field_dict["context"] = context
        if input_content_type is not UNSET:
            field_dict["input_content_type"] = input_content_type
        if input_size is not UNSET:
            field_dict["input_size"] = input_size
        if output_size is not UNSET:
            field_dict["output_size"] = output_size
        if output_content_type is not UNSET:
            field_dict["output_content_type"] = output_content_type
        if output is not UNSET:
            field_dict["output"] = output
        if output_base64 is not UNSET:
            field_dict["output_base64"] = output_base64
        if error is not UNSET:
            field_dict["error"] = error
        if logs is not UNSET:
            field_dict["logs"] = logs
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if duration_us is not UNSET:
            field_dict["duration_us"] = duration_us
        if seq is not UNSET:
            field_dict["seq"] = seq

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.invocation_context import InvocationContext
        from ..models.invocation_error_type_0 import InvocationErrorType0
        from ..models.log_line import LogLine

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        function = d.pop("function", UNSET)

        address = d.pop("address", UNSET)

        version = d.pop("version", UNSET)

        _status = d.pop("status", UNSET)
        status: InvocationStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = InvocationStatus(_status)

        async_ = d.pop("async", UNSET)

        attempt = d.pop("attempt", UNSET)

        def _parse_idempotency_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        idempotency_key = _parse_idempotency_key(d.pop("idempotency_key", UNSET))

        _context = d.pop("context", UNSET)
        context: InvocationContext | Unset
        if isinstance(_context, Unset):
            context = UNSET
        else:
            context = InvocationContext.from_dict(_context)

        input_content_type = d.pop("input_content_type", UNSET)

        input_size = d.pop("input_size", UNSET)

        output_size = d.pop("output_size", UNSET)

        output_content_type = d.pop("output_content_type", UNSET)

        output = d.pop("output", UNSET)

        output_base64 = d.pop("output_base64", UNSET)

        def _parse_error(data: object) -> InvocationErrorType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_0 = InvocationErrorType0.from_dict(data)

                return error_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(InvocationErrorType0 | None | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        _logs = d.pop("logs", UNSET)
        logs: list[LogLine] | Unset = UNSET
        if _logs is not UNSET:
            logs = []
            for logs_item_data in _logs:
                logs_item = LogLine.from_dict(logs_item_data)

                logs.append(logs_item)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = isoparse(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        def _parse_duration_us(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        duration_us = _parse_duration_us(d.pop("duration_us", UNSET))

        seq = d.pop("seq", UNSET)

        invocation = cls(
            id=id,
            function=function,
            address=address,
            version=version,
            status=status,
            async_=async_,
            attempt=attempt,
            idempotency_key=idempotency_key,
            context=context,
            input_content_type=input_content_type,
            input_size=input_size,
            output_size=output_size,
            output_content_type=output_content_type,
            output=output,
            output_base64=output_base64,
            error=error,
            logs=logs,
            created_at=created_at,
            finished_at=finished_at,
            duration_us=duration_us,
            seq=seq,
        )

        invocation.additional_properties = d
        return invocation

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
