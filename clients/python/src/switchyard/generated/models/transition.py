from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.transition_ctx import TransitionCtx


T = TypeVar("T", bound="Transition")


@_attrs_define
class Transition:
    """
    Attributes:
        from_ (str | Unset):
        to (str | Unset):
        revision (int | Unset):
        seq (int | Unset):
        ctx (TransitionCtx | Unset):
    """

    from_: str | Unset = UNSET
    to: str | Unset = UNSET
    revision: int | Unset = UNSET
    seq: int | Unset = UNSET
    ctx: TransitionCtx | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from_ = self.from_

        to = self.to

        revision = self.revision

        seq = self.seq

        ctx: dict[str, Any] | Unset = UNSET
        if not isinstance(self.ctx, Unset):
            ctx = self.ctx.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if from_ is not UNSET:
            field_dict["from"] = from_
        if to is not UNSET:
            field_dict["to"] = to
        if revision is not UNSET:
            field_dict["revision"] = revision
        if seq is not UNSET:
            field_dict["seq"] = seq
        if ctx is not UNSET:
            field_dict["ctx"] = ctx

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.transition_ctx import TransitionCtx

        d = dict(src_dict)
        from_ = d.pop("from", UNSET)

        to = d.pop("to", UNSET)

        revision = d.pop("revision", UNSET)

        seq = d.pop("seq", UNSET)

        _ctx = d.pop("ctx", UNSET)
        ctx: TransitionCtx | Unset
        if isinstance(_ctx, Unset):
            ctx = UNSET
        else:
            ctx = TransitionCtx.from_dict(_ctx)

        transition = cls(
            from_=from_,
            to=to,
            revision=revision,
            seq=seq,
            ctx=ctx,
        )

        transition.additional_properties = d
        return transition

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
