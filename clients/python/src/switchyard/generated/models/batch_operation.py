from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.batch_operation_op import BatchOperationOp
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.batch_operation_ctx import BatchOperationCtx
    from ..models.batch_operation_payload import BatchOperationPayload


T = TypeVar("T", bound="BatchOperation")


@_attrs_define
class BatchOperation:
    """
    Attributes:
        op (BatchOperationOp):
        space (str):
        machine (str):
        instance (str | Unset):
        id (str | Unset):
        ctx (BatchOperationCtx | Unset):
        event (str | Unset):
        payload (BatchOperationPayload | Unset):
        idempotency_key (str | Unset):
        expected_state (str | Unset):
        expected_revision (int | Unset):
    """

    op: BatchOperationOp
    space: str
    machine: str
    instance: str | Unset = UNSET
    id: str | Unset = UNSET
    ctx: BatchOperationCtx | Unset = UNSET
    event: str | Unset = UNSET
    payload: BatchOperationPayload | Unset = UNSET
    idempotency_key: str | Unset = UNSET
    expected_state: str | Unset = UNSET
    expected_revision: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        op = self.op.value

        space = self.space

        machine = self.machine

        instance = self.instance

        id = self.id

        ctx: dict[str, Any] | Unset = UNSET
        if not isinstance(self.ctx, Unset):
            ctx = self.ctx.to_dict()

        event = self.event

        payload: dict[str, Any] | Unset = UNSET
        if not isinstance(self.payload, Unset):
            payload = self.payload.to_dict()

        idempotency_key = self.idempotency_key

        expected_state = self.expected_state

        expected_revision = self.expected_revision

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "op": op,
                "space": space,
                "machine": machine,
            }
        )
        if instance is not UNSET:
            field_dict["instance"] = instance
        if id is not UNSET:
            field_dict["id"] = id
        if ctx is not UNSET:
            field_dict["ctx"] = ctx
        if event is not UNSET:
            field_dict["event"] = event
        if payload is not UNSET:
            field_dict["payload"] = payload
        if idempotency_key is not UNSET:
            field_dict["idempotency_key"] = idempotency_key
        if expected_state is not UNSET:
            field_dict["expected_state"] = expected_state
        if expected_revision is not UNSET:
            field_dict["expected_revision"] = expected_revision

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.batch_operation_ctx import BatchOperationCtx
        from ..models.batch_operation_payload import BatchOperationPayload

        d = dict(src_dict)
        op = BatchOperationOp(d.pop("op"))

        space = d.pop("space")

        machine = d.pop("machine")

        instance = d.pop("instance", UNSET)

        id = d.pop("id", UNSET)

        _ctx = d.pop("ctx", UNSET)
        ctx: BatchOperationCtx | Unset
        if isinstance(_ctx, Unset):
            ctx = UNSET
        else:
            ctx = BatchOperationCtx.from_dict(_ctx)

        event = d.pop("event", UNSET)

        _payload = d.pop("payload", UNSET)
        payload: BatchOperationPayload | Unset
        if isinstance(_payload, Unset):
            payload = UNSET
        else:
            payload = BatchOperationPayload.from_dict(_payload)

        idempotency_key = d.pop("idempotency_key", UNSET)

        expected_state = d.pop("expected_state", UNSET)

        expected_revision = d.pop("expected_revision", UNSET)

        batch_operation = cls(
            op=op,
            space=space,
            machine=machine,
            instance=instance,
            id=id,
            ctx=ctx,
            event=event,
            payload=payload,
            idempotency_key=idempotency_key,
            expected_state=expected_state,
            expected_revision=expected_revision,
        )

        batch_operation.additional_properties = d
        return batch_operation

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
