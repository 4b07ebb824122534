from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RetryJobBody")


@_attrs_define
class RetryJobBody:
    """
    Attributes:
        payload (Any | Unset): replaces the job's payload (checked as at enqueue)
    """

    payload: Any | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        payload = self.payload

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if payload is not UNSET:
            field_dict["payload"] = payload

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        payload = d.pop("payload", UNSET)

        retry_job_body = cls(
            payload=payload,
        )

        return retry_job_body
