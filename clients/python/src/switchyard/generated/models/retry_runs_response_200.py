from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.retry_runs_response_200_skipped_item import (
        RetryRunsResponse200SkippedItem,
    )


T = TypeVar("T", bound="RetryRunsResponse200")


@_attrs_define
class RetryRunsResponse200:
    """
    Attributes:
        started (list[str] | Unset):
        skipped (list[RetryRunsResponse200SkippedItem] | Unset):
    """

    started: list[str] | Unset = UNSET
    skipped: list[RetryRunsResponse200SkippedItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        started: list[str] | Unset = UNSET
        if not isinstance(self.started, Unset):
            started = self.started

        skipped: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.skipped, Unset):
            skipped = []
            for skipped_item_data in self.skipped:
                skipped_item = skipped_item_data.to_dict()
                skipped.append(skipped_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if started is not UNSET:
            field_dict["started"] = started
        if skipped is not UNSET:
            field_dict["skipped"] = skipped

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.retry_runs_response_200_skipped_item import (
            RetryRunsResponse200SkippedItem,
        )

        d = dict(src_dict)
        started = cast(list[str], d.pop("started", UNSET))

        _skipped = d.pop("skipped", UNSET)
        skipped: list[RetryRunsResponse200SkippedItem] | Unset = UNSET
        if _skipped is not UNSET:
            skipped = []
            for skipped_item_data in _skipped:
                skipped_item = RetryRunsResponse200SkippedItem.from_dict(
                    skipped_item_data
                )

                skipped.append(skipped_item)

        retry_runs_response_200 = cls(
            started=started,
            skipped=skipped,
        )

        retry_runs_response_200.additional_properties = d
        return retry_runs_response_200

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
