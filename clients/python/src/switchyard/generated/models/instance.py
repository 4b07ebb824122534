from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field
from dateutil.parser import isoparse

from ..models.instance_status import InstanceStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.instance_child import InstanceChild
    from ..models.instance_ctx import InstanceCtx
    from ..models.instance_error import InstanceError
    from ..models.instance_parent import InstanceParent
    from ..models.instance_pending_item import InstancePendingItem


T = TypeVar("T", bound="Instance")


@_attrs_define
class Instance:
    """
    Attributes:
        id (str | Unset):
        machine (str | Unset):
        machine_version (int | Unset):
        state (str | Unset):
        ctx (InstanceCtx | Unset):
        revision (int | Unset):
        created_at (datetime.datetime | Unset):
        updated_at (datetime.datetime | Unset):
        status (InstanceStatus | Unset):
        error (InstanceError | Unset): Why it failed or was cancelled: {code, message}
        pending (list[InstancePendingItem] | Unset): The jobs of its current state (its action and timers); on a read of
            one instance
        child (InstanceChild | Unset): The child instance its current state waits for (invoke: {machine}); on a read of
            one instance
        parent (InstanceParent | Unset): The instance that started this one as its child, and the state it started it
            from
    """

    id: str | Unset = UNSET
    machine: str | Unset = UNSET
    machine_version: int | Unset = UNSET
    state: str | Unset = UNSET
    ctx: InstanceCtx | Unset = UNSET
    revision: int | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    status: InstanceStatus | Unset = UNSET
    error: InstanceError | Unset = UNSET
    pending: list[InstancePendingItem] | Unset = UNSET
    child: InstanceChild | Unset = UNSET
    parent: InstanceParent | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        machine = self.machine

        machine_version = self.machine_version

        state = self.state

        ctx: dict[str, Any] | Unset = UNSET
        if not isinstance(self.ctx, Unset):
            ctx = self.ctx.to_dict()

        revision = self.revision

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        updated_at: str | Unset = UNSET
        if not isinstance(self.updated_at, Unset):
            updated_at = self.updated_at.isoformat()

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        error: dict[str, Any] | Unset = UNSET
        if not isinstance(self.error, Unset):
            error = self.error.to_dict()

        pending: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.pending, Unset):
            pending = []
            for pending_item_data in self.pending:
                pending_item = pending_item_data.to_dict()
                pending.append(pending_item)

        child: dict[str, Any] | Unset = UNSET
        if not isinstance(self.child, Unset):
            child = self.child.to_dict()

        parent: dict[str, Any] | Unset = UNSET
        if not isinstance(self.parent, Unset):
            parent = self.parent.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if id is not UNSET:
            field_dict["id"] = id
        if machine is not UNSET:
            field_dict["machine"] = machine
        if machine_version is not UNSET:
            field_dict["machine_version"] = machine_version
        if state is not UNSET:
            field_dict["state"] = state
        if ctx is not UNSET:
            field_dict["ctx"] = ctx
        if revision is not UNSET:
            field_dict["revision"] = revision
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at
        if status is not UNSET:
            field_dict["status"] = status
        if error is not UNSET:
            field_dict["error"] = error
        if pending is not UNSET:
            field_dict["pending"] = pending
        if child is not UNSET:
            field_dict["child"] = child
        if parent is not UNSET:
            field_dict["parent"] = parent

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.instance_child import InstanceChild
        from ..models.instance_ctx import InstanceCtx
        from ..models.instance_error import InstanceError
        from ..models.instance_parent import InstanceParent
        from ..models.instance_pending_item import InstancePendingItem

        d = dict(src_dict)
        id = d.pop("id", UNSET)

        machine = d.pop("machine", UNSET)

        machine_version = d.pop("machine_version", UNSET)

        state = d.pop("state", UNSET)

        _ctx = d.pop("ctx", UNSET)
        ctx: InstanceCtx | Unset
        if isinstance(_ctx, Unset):
            ctx = UNSET
        else:
            ctx = InstanceCtx.from_dict(_ctx)

        revision = d.pop("revision", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = isoparse(_created_at)

        _updated_at = d.pop("updated_at", UNSET)
        updated_at: datetime.datetime | Unset
        if isinstance(_updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = isoparse(_updated_at)

        _status = d.pop("status", UNSET)
        status: InstanceStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = InstanceStatus(_status)

        _error = d.pop("error", UNSET)
        error: InstanceError | Unset
        if isinstance(_error, Unset):
            error = UNSET
        else:
            error = InstanceError.from_dict(_error)

        _pending = d.pop("pending", UNSET)
        pending: list[InstancePendingItem] | Unset = UNSET
        if _pending is not UNSET:
            pending = []
            for pending_item_data in _pending:
                pending_item = InstancePendingItem.from_dict(pending_item_data)

                pending.append(pending_item)

        _child = d.pop("child", UNSET)
        child: InstanceChild | Unset
        if isinstance(_child, Unset):
            child = UNSET
        else:
            child = InstanceChild.from_dict(_child)

        _parent = d.pop("parent", UNSET)
        parent: InstanceParent | Unset
        if isinstance(_parent, Unset):
            parent = UNSET
        else:
            parent = InstanceParent.from_dict(_parent)

        instance = cls(
            id=id,
            machine=machine,
            machine_version=machine_version,
            state=state,
            ctx=ctx,
            revision=revision,
            created_at=created_at,
            updated_at=updated_at,
            status=status,
            error=error,
            pending=pending,
            child=child,
            parent=parent,
        )

        instance.additional_properties = d
        return instance

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
