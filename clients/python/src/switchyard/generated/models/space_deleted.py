from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.space_deleted_deleted import SpaceDeletedDeleted


T = TypeVar("T", bound="SpaceDeleted")


@_attrs_define
class SpaceDeleted:
    """
    Attributes:
        space (str):
        deleted (SpaceDeletedDeleted): Per kind: machines and functions by name (every version went), instances and KV
            keys deleted ones included
        seq (int): The space.deleted record
    """

    space: str
    deleted: SpaceDeletedDeleted
    seq: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        space = self.space

        deleted = self.deleted.to_dict()

        seq = self.seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "space": space,
                "deleted": deleted,
                "seq": seq,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.space_deleted_deleted import SpaceDeletedDeleted

        d = dict(src_dict)
        space = d.pop("space")

        deleted = SpaceDeletedDeleted.from_dict(d.pop("deleted"))

        seq = d.pop("seq")

        space_deleted = cls(
            space=space,
            deleted=deleted,
            seq=seq,
        )

        space_deleted.additional_properties = d
        return space_deleted

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
