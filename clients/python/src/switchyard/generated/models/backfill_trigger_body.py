from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="BackfillTriggerBody")


@_attrs_define
class BackfillTriggerBody:
    """
    Attributes:
        from_ (str): RFC 3339
        to (str): RFC 3339, included
    """

    from_: str
    to: str

    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_

        to = self.to

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "from": from_,
                "to": to,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        from_ = d.pop("from")

        to = d.pop("to")

        backfill_trigger_body = cls(
            from_=from_,
            to=to,
        )

        return backfill_trigger_body
