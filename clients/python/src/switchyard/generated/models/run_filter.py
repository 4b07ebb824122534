from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from dateutil.parser import isoparse

from ..models.run_filter_status import RunFilterStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="RunFilter")


@_attrs_define
class RunFilter:
    """
    Attributes:
        flow (str | Unset):
        status (RunFilterStatus | Unset):
        since (datetime.datetime | Unset):
        until (datetime.datetime | Unset):
    """

    flow: str | Unset = UNSET
    status: RunFilterStatus | Unset = UNSET
    since: datetime.datetime | Unset = UNSET
    until: datetime.datetime | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        flow = self.flow

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        since: str | Unset = UNSET
        if not isinstance(self.since, Unset):
            since = self.since.isoformat()

        until: str | Unset = UNSET
        if not isinstance(self.until, Unset):
            until = self.until.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if flow is not UNSET:
            field_dict["flow"] = flow
        if status is not UNSET:
            field_dict["status"] = status
        if since is not UNSET:
            field_dict["since"] = since
        if until is not UNSET:
            field_dict["until"] = until

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        flow = d.pop("flow", UNSET)

        _status = d.pop("status", UNSET)
        status: RunFilterStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = RunFilterStatus(_status)

        _since = d.pop("since", UNSET)
        since: datetime.datetime | Unset
        if isinstance(_since, Unset):
            since = UNSET
        else:
            since = isoparse(_since)

        _until = d.pop("until", UNSET)
        until: datetime.datetime | Unset
        if isinstance(_until, Unset):
            until = UNSET
        else:
            until = isoparse(_until)

        run_filter = cls(
            flow=flow,
            status=status,
            since=since,
            until=until,
        )

        return run_filter
