from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="PutBucketBody")


@_attrs_define
class PutBucketBody:
    """
    Attributes:
        history (int | Unset):
    """

    history: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        history = self.history

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if history is not UNSET:
            field_dict["history"] = history

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        history = d.pop("history", UNSET)

        put_bucket_body = cls(
            history=history,
        )

        return put_bucket_body
