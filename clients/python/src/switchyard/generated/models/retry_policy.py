from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.retry_policy_jitter import RetryPolicyJitter
from ..types import UNSET, Unset

T = TypeVar("T", bound="RetryPolicy")


@_attrs_define
class RetryPolicy:
    """When a failed attempt is tried again. Durations are humantime strings ("200ms", "30s", "1h") or integer
    milliseconds. Every field may be left out.

        Attributes:
            max_attempts (int | Unset): attempts in all, the first included (default 5)
            initial (int | str | Unset): the first retry's delay cap (1ms-30d; default 1s)
            multiplier (float | Unset): how the cap grows per attempt (default 2)
            max_ (int | str | Unset): the largest cap (initial-30d; default 100 x initial)
            jitter (RetryPolicyJitter | Unset): full: a delay drawn from [0, cap]; none: the cap itself (default full)
            deadline (int | str | Unset): no retry is scheduled this long after the job was enqueued (default none)
            non_retryable (list[str] | Unset): error codes that end the job at once (at most 64)
    """

    max_attempts: int | Unset = UNSET
    initial: int | str | Unset = UNSET
    multiplier: float | Unset = UNSET
    max_: int | str | Unset = UNSET
    jitter: RetryPolicyJitter | Unset = UNSET
    deadline: int | str | Unset = UNSET
    non_retryable: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        max_attempts = self.max_attempts

        initial: int | str | Unset
        if isinstance(self.initial, Unset):
            initial = UNSET
        else:
            initial = self.initial

        multiplier = self.multiplier

        max_: int | str | Unset
        if isinstance(self.max_, Unset):
            max_ = UNSET
        else:
            max_ = self.max_

        jitter: str | Unset = UNSET
        if not isinstance(self.jitter, Unset):
            jitter = self.jitter.value

        deadline: int | str | Unset
        if isinstance(self.deadline, Unset):
            deadline = UNSET
        else:
            deadline = self.deadline

        non_retryable: list[str] | Unset = UNSET
        if not isinstance(self.non_retryable, Unset):
            non_retryable = self.non_retryable

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if max_attempts is not UNSET:
            field_dict["max_attempts"] = max_attempts
        if initial is not UNSET:
            field_dict["initial"] = initial
        if multiplier is not UNSET:
            field_dict["multiplier"] = multiplier
        if max_ is not UNSET:
            field_dict["max"] = max_
        if jitter is not UNSET:
            field_dict["jitter"] = jitter
        if deadline is not UNSET:
            field_dict["deadline"] = deadline
        if non_retryable is not UNSET:
            field_dict["non_retryable"] = non_retryable

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        max_attempts = d.pop("max_attempts", UNSET)

        def _parse_initial(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        initial = _parse_initial(d.pop("initial", UNSET))

        multiplier = d.pop("multiplier", UNSET)

        def _parse_max_(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        max_ = _parse_max_(d.pop("max", UNSET))

        _jitter = d.pop("jitter", UNSET)
        jitter: RetryPolicyJitter | Unset
        if isinstance(_jitter, Unset):
            jitter = UNSET
        else:
            jitter = RetryPolicyJitter(_jitter)

        def _parse_deadline(data: object) -> int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | str | Unset, data)

        deadline = _parse_deadline(d.pop("deadline", UNSET))

        non_retryable = cast(list[str], d.pop("non_retryable", UNSET))

        retry_policy = cls(
            max_attempts=max_attempts,
            initial=initial,
            multiplier=multiplier,
            max_=max_,
            jitter=jitter,
            deadline=deadline,
            non_retryable=non_retryable,
        )

        return retry_policy
