from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.trigger_execution import TriggerExecution
    from ..models.trigger_health_last_rejection_type_0 import (
        TriggerHealthLastRejectionType0,
    )


T = TypeVar("T", bound="TriggerHealth")


@_attrs_define
class TriggerHealth:
    """
    Attributes:
        last_execution (None | TriggerExecution | Unset):
        last_failure (None | TriggerExecution | Unset):
        rejected (int | Unset): Webhook requests this node refused since it started
        last_rejection (None | TriggerHealthLastRejectionType0 | Unset):
    """

    last_execution: None | TriggerExecution | Unset = UNSET
    last_failure: None | TriggerExecution | Unset = UNSET
    rejected: int | Unset = UNSET
    last_rejection: None | TriggerHealthLastRejectionType0 | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.trigger_execution import TriggerExecution
        from ..models.trigger_health_last_rejection_type_0 import (
            TriggerHealthLastRejectionType0,
        )

        last_execution: dict[str, Any] | None | Unset
        if isinstance(self.last_execution, Unset):
            last_execution = UNSET
        elif isinstance(self.last_execution, TriggerExecution):
            last_execution = self.last_execution.to_dict()
        else:
            last_execution = self.last_execution

        last_failure: dict[str, Any] | None | Unset
        if isinstance(self.last_failure, Unset):
            last_failure = UNSET
        elif isinstance(self.last_failure, TriggerExecution):
            last_failure = self.last_failure.to_dict()
        else:
            last_failure = self.last_failure

        rejected = self.rejected

        last_rejection: dict[str, Any] | None | Unset
        if isinstance(self.last_rejection, Unset):
            last_rejection = UNSET
        elif isinstance(self.last_rejection, TriggerHealthLastRejectionType0):
            last_rejection = self.last_rejection.to_dict()
        else:
            last_rejection = self.last_rejection

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if last_execution is not UNSET:
            field_dict["last_execution"] = last_execution
        if last_failure is not UNSET:
            field_dict["last_failure"] = last_failure
        if rejected is not UNSET:
            field_dict["rejected"] = rejected
        if last_rejection is not UNSET:
            field_dict["last_rejection"] = last_rejection

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.trigger_execution import TriggerExecution
        from ..models.trigger_health_last_rejection_type_0 import (
            TriggerHealthLastRejectionType0,
        )

        d = dict(src_dict)

        def _parse_last_execution(data: object) -> None | TriggerExecution | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_execution_type_0 = TriggerExecution.from_dict(data)

                return last_execution_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TriggerExecution | Unset, data)

        last_execution = _parse_last_execution(d.pop("last_execution", UNSET))

        def _parse_last_failure(data: object) -> None | TriggerExecution | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_failure_type_0 = TriggerExecution.from_dict(data)

                return last_failure_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TriggerExecution | Unset, data)

        last_failure = _parse_last_failure(d.pop("last_failure", UNSET))

        rejected = d.pop("rejected", UNSET)

        def _parse_last_rejection(
            data: object,
        ) -> None | TriggerHealthLastRejectionType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_rejection_type_0 = TriggerHealthLastRejectionType0.from_dict(data)

                return last_rejection_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TriggerHealthLastRejectionType0 | Unset, data)

        last_rejection = _parse_last_rejection(d.pop("last_rejection", UNSET))

        trigger_health = cls(
            last_execution=last_execution,
            last_failure=last_failure,
            rejected=rejected,
            last_rejection=last_rejection,
        )

        trigger_health.additional_properties = d
        return trigger_health

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
