from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="StartRunBody")


@_attrs_define
class StartRunBody:
    """
    Attributes:
        input_ (Any | Unset): the run's input
        idempotency_key (str | Unset):
    """

    input_: Any | Unset = UNSET
    idempotency_key: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        input_ = self.input_

        idempotency_key = self.idempotency_key

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if input_ is not UNSET:
            field_dict["input"] = input_
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        input_ = d.pop("input", UNSET)

        idempotency_key = d.pop("idempotency_key", UNSET)

        start_run_body = cls(
            input_=input_,
            idempotency_key=idempotency_key,
        )

        return start_run_body
