from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RetryJobsBody")


@_attrs_define
class RetryJobsBody:
    """
    Attributes:
        kind (str | Unset): only dead jobs of this kind
        limit (int | Unset): at most this many (default 1000)
    """

    kind: str | Unset = UNSET
    limit: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        kind = self.kind

        limit = self.limit

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if kind is not UNSET:
            field_dict["kind"] = kind
        if limit is not UNSET:
            field_dict["limit"] = limit

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        kind = d.pop("kind", UNSET)

        limit = d.pop("limit", UNSET)

        retry_jobs_body = cls(
            kind=kind,
            limit=limit,
        )

        return retry_jobs_body
