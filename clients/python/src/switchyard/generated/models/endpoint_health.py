from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.endpoint_health_breaker import EndpointHealthBreaker
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.delivery import Delivery


T = TypeVar("T", bound="EndpointHealth")


@_attrs_define
class EndpointHealth:
    """
    Attributes:
        last_delivery (Delivery | None | Unset):
        last_failure (Delivery | None | Unset):
        breaker (EndpointHealthBreaker | Unset): This node's circuit breaker
        consecutive_failures (int | Unset):
        open_until (None | str | Unset):
        slowed_until (None | str | Unset): Held back after a 429, 502 or 504 until then (this node)
        consumer (None | str | Unset): The status of the job that reads the log for it (dead: it gave up; put the
            endpoint again)
    """

    last_delivery: Delivery | None | Unset = UNSET
    last_failure: Delivery | None | Unset = UNSET
    breaker: EndpointHealthBreaker | Unset = UNSET
    consecutive_failures: int | Unset = UNSET
    open_until: None | str | Unset = UNSET
    slowed_until: None | str | Unset = UNSET
    consumer: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.delivery import Delivery

        last_delivery: dict[str, Any] | None | Unset
        if isinstance(self.last_delivery, Unset):
            last_delivery = UNSET
        elif isinstance(self.last_delivery, Delivery):
            last_delivery = self.last_delivery.to_dict()
        else:
            last_delivery = self.last_delivery

        last_failure: dict[str, Any] | None | Unset
        if isinstance(self.last_failure, Unset):
            last_failure = UNSET
        elif isinstance(self.last_failure, Delivery):
            last_failure = self.last_failure.to_dict()
        else:
            last_failure = self.last_failure

        breaker: str | Unset = UNSET
        if not isinstance(self.breaker, Unset):
            breaker = self.breaker.value

        consecutive_failures = self.consecutive_failures

        open_until: None | str | Unset
        if isinstance(self.open_until, Unset):
            open_until = UNSET
        else:
            open_until = self.open_until

        slowed_until: None | str | Unset
        if isinstance(self.slowed_until, Unset):
            slowed_until = UNSET
        else:
            slowed_until = self.slowed_until

        consumer: None | str | Unset
        if isinstance(self.consumer, Unset):
            consumer = UNSET
        else:
            consumer = self.consumer

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if last_delivery is not UNSET:
            field_dict["last_delivery"] = last_delivery
        if last_failure is not UNSET:
            field_dict["last_failure"] = last_failure
        if breaker is not UNSET:
            field_dict["breaker"] = breaker
        if consecutive_failures is not UNSET:
            field_dict["consecutive_failures"] = consecutive_failures
        if open_until is not UNSET:
            field_dict["open_until"] = open_until
        if slowed_until is not UNSET:
            field_dict["slowed_until"] = slowed_until
        if consumer is not UNSET:
            field_dict["consumer"] = consumer

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.delivery import Delivery

        d = dict(src_dict)

        def _parse_last_delivery(data: object) -> Delivery | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_delivery_type_0 = Delivery.from_dict(data)

                return last_delivery_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Delivery | None | Unset, data)

        last_delivery = _parse_last_delivery(d.pop("last_delivery", UNSET))

        def _parse_last_failure(data: object) -> Delivery | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                last_failure_type_0 = Delivery.from_dict(data)

                return last_failure_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Delivery | None | Unset, data)

        last_failure = _parse_last_failure(d.pop("last_failure", UNSET))

        _breaker = d.pop("breaker", UNSET)
        breaker: EndpointHealthBreaker | Unset
        if isinstance(_breaker, Unset):
            breaker = UNSET
        else:
            breaker = EndpointHealthBreaker(_breaker)

        consecutive_failures = d.pop("consecutive_failures", UNSET)

        def _parse_open_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        open_until = _parse_open_until(d.pop("open_until", UNSET))

        def _parse_slowed_until(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        slowed_until = _parse_slowed_until(d.pop("slowed_until", UNSET))

        def _parse_consumer(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        consumer = _parse_consumer(d.pop("consumer", UNSET))

        endpoint_health = cls(
            last_delivery=last_delivery,
            last_failure=last_failure,
            breaker=breaker,
            consecutive_failures=consecutive_failures,
            open_until=open_until,
            slowed_until=slowed_until,
            consumer=consumer,
        )

        endpoint_health.additional_properties = d
        return endpoint_health

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
