from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="ChangePasswordBody")


@_attrs_define
class ChangePasswordBody:
    """
    Attributes:
        current (str):
        new (str):
    """

    current: str
    new: str

    def to_dict(self) -> dict[str, Any]:
        current = self.current

        new = self.new

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "current": current,
                "new": new,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        current = d.pop("current")

        new = d.pop("new")

        change_password_body = cls(
            current=current,
            new=new,
        )

        return change_password_body
