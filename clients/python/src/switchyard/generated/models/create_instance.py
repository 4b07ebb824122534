from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_instance_ctx import CreateInstanceCtx


T = TypeVar("T", bound="CreateInstance")


@_attrs_define
class CreateInstance:
    """
    Attributes:
        id (str | Unset):
        ctx (CreateInstanceCtx | Unset):
        idempotency_key (str | Unset):
    """

    id: str | Unset = UNSET
    ctx: CreateInstanceCtx | Unset = UNSET
    idempotency_key: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        ctx: dict[str, Any] | Unset = UNSET
        if not isinstance(self.ctx, Unset):
            ctx = self.ctx.to_dict()

        idempotency_key = self.idempotency_key

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if ctx is not UNSET:
            field_dict["ctx"] = ctx
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_instance_ctx import CreateInstanceCtx

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        _ctx = d.pop("ctx", UNSET)
        ctx: CreateInstanceCtx | Unset
        if isinstance(_ctx, Unset):
            ctx = UNSET
        else:
            ctx = CreateInstanceCtx.from_dict(_ctx)

        idempotency_key = d.pop("idempotency_key", UNSET)

        create_instance = cls(
            id=id,
            ctx=ctx,
            idempotency_key=idempotency_key,
        )

        return create_instance
