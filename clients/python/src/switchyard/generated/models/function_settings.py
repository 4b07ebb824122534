from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.function_settings_config import FunctionSettingsConfig
    from ..models.function_settings_grants_type_0_item import (
        FunctionSettingsGrantsType0Item,
    )
    from ..models.retry_policy import RetryPolicy


T = TypeVar("T", bound="FunctionSettings")


@_attrs_define
class FunctionSettings:
    """
    Attributes:
        timeout_ms (int | Unset):
        memory_bytes (int | Unset):
        fuel (int | None | Unset):
        allowed_hosts (list[str] | Unset):
        kv_buckets (list[str] | Unset):
        config (FunctionSettingsConfig | Unset):
        secrets (list[str] | Unset): the secrets' names only
        retry (None | RetryPolicy | Unset): null for the default policy
        grants (list[FunctionSettingsGrantsType0Item] | None | Unset): The grants it was deployed with; null for the
            default (events:send and topics:publish on the whole space)
    """

    timeout_ms: int | Unset = UNSET
    memory_bytes: int | Unset = UNSET
    fuel: int | None | Unset = UNSET
    allowed_hosts: list[str] | Unset = UNSET
    kv_buckets: list[str] | Unset = UNSET
    config: FunctionSettingsConfig | Unset = UNSET
    secrets: list[str] | Unset = UNSET
    retry: None | RetryPolicy | Unset = UNSET
    grants: list[FunctionSettingsGrantsType0Item] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.retry_policy import RetryPolicy

        timeout_ms = self.timeout_ms

        memory_bytes = self.memory_bytes

        fuel: int | None | Unset
        if isinstance(self.fuel, Unset):
            fuel = UNSET
        else:
            fuel = self.fuel

        allowed_hosts: list[str] | Unset = UNSET
        if not isinstance(self.allowed_hosts, Unset):
            allowed_hosts = self.allowed_hosts

        kv_buckets: list[str] | Unset = UNSET
        if not isinstance(self.kv_buckets, Unset):
            kv_buckets = self.kv_buckets

        config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.config, Unset):
            config = self.config.to_dict()

        secrets: list[str] | Unset = UNSET
        if not isinstance(self.secrets, Unset):
            secrets = self.secrets

        retry: dict[str, Any] | None | Unset
        if isinstance(self.retry, Unset):
            retry = UNSET
        elif isinstance(self.retry, RetryPolicy):
            retry = self.retry.to_dict()
        else:
            retry = self.retry

        grants: list[dict[str, Any]] | None | Unset
        if isinstance(self.grants, Unset):
            grants = UNSET
        elif isinstance(self.grants, list):
            grants = []
            for grants_type_0_item_data in self.grants:
                grants_type_0_item = grants_type_0_item_data.to_dict()
                grants.append(grants_type_0_item)

        else:
            grants = self.grants

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if timeout_ms is not UNSET:
            field_dict["timeout_ms"] = timeout_ms
        if memory_bytes is not UNSET:
            field_dict["memory_bytes"] = memory_bytes
        if fuel is not UNSET:
            field_dict["fuel"] = fuel
        if allowed_hosts is not UNSET:
            field_dict["allowed_hosts"] = allowed_hosts
        if kv_buckets is not UNSET:
            field_dict["kv_buckets"] = kv_buckets
        if config is not UNSET:
            field_dict["config"] = config
        if secrets is not UNSET:
            field_dict["secrets"] = secrets
        if retry is not UNSET:
            field_dict["retry"] = retry
        if grants is not UNSET:
            field_dict["grants"] = grants

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.function_settings_config import FunctionSettingsConfig
        from ..models.function_settings_grants_type_0_item import (
            FunctionSettingsGrantsType0Item,
        )
        from ..models.retry_policy import RetryPolicy

        d = dict(src_dict)
        timeout_ms = d.pop("timeout_ms", UNSET)

        memory_bytes = d.pop("memory_bytes", UNSET)

        def _parse_fuel(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        fuel = _parse_fuel(d.pop("fuel", UNSET))

        allowed_hosts = cast(list[str], d.pop("allowed_hosts", UNSET))

        kv_buckets = cast(list[str], d.pop("kv_buckets", UNSET))

        _config = d.pop("config", UNSET)
        config: FunctionSettingsConfig | Unset
        if isinstance(_config, Unset):
            config = UNSET
        else:
            config = FunctionSettingsConfig.from_dict(_config)

        secrets = cast(list[str], d.pop("secrets", UNSET))

        def _parse_retry(data: object) -> None | RetryPolicy | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                retry_type_0 = RetryPolicy.from_dict(data)

                return retry_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RetryPolicy | Unset, data)

        retry = _parse_retry(d.pop("retry", UNSET))

        def _parse_grants(
            data: object,
        ) -> list[FunctionSettingsGrantsType0Item] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                grants_type_0 = []
                _grants_type_0 = data
                for grants_type_0_item_data in _grants_type_0:
                    grants_type_0_item = FunctionSettingsGrantsType0Item.from_dict(
                        grants_type_0_item_data
                    )

                    grants_type_0.append(grants_type_0_item)

                return grants_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[FunctionSettingsGrantsType0Item] | None | Unset, data)

        grants = _parse_grants(d.pop("grants", UNSET))

        function_settings = cls(
            timeout_ms=timeout_ms,
            memory_bytes=memory_bytes,
            fuel=fuel,
            allowed_hosts=allowed_hosts,
            kv_buckets=kv_buckets,
            config=config,
            secrets=secrets,
            retry=retry,
            grants=grants,
        )

        function_settings.additional_properties = d
        return function_settings

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
