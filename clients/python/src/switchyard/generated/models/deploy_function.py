from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.deploy_function_config import DeployFunctionConfig
    from ..models.deploy_function_grants_type_0_item import (
        DeployFunctionGrantsType0Item,
    )
    from ..models.deploy_function_secrets import DeployFunctionSecrets
    from ..models.retry_policy import RetryPolicy


T = TypeVar("T", bound="DeployFunction")


@_attrs_define
class DeployFunction:
    """
    Attributes:
        component_base64 (str): The WebAssembly component (world switchyard:function, wit/function.wit), standard
            base64; at most 64 MiB decoded
        timeout_ms (int | Unset): Wall time per invocation; default 10000
        memory_bytes (int | Unset): Memory limit; default 64 MiB, at most the server's --function-max-memory (default 1
            GiB)
        fuel (int | Unset): Fuel limit; none by default
        allowed_hosts (list[str] | Unset): Hosts outgoing HTTP may reach: host or host:port (no scheme, path or
            wildcard)
        kv_buckets (list[str] | Unset): KV buckets of the space the function may use
        config (DeployFunctionConfig | Unset): Configuration values; keys of 1-128 [A-Za-z0-9._-], values at most 64 KiB
        secrets (DeployFunctionSecrets | Unset): Secrets (never shown back); keys of 1-128 [A-Za-z0-9._-], values at
            most 64 KiB
        retry (RetryPolicy | Unset): When a failed attempt is tried again. Durations are humantime strings ("200ms",
            "30s", "1h") or integer milliseconds. Every field may be left out.
        grants (list[DeployFunctionGrantsType0Item] | None | Unset): Roles on patterns within the function's space its
            host calls act with (each held by the deployer); absent or null: events:send on space:machines:* and
            topics:publish on space:topics:*
    """

    component_base64: str
    timeout_ms: int | Unset = UNSET
    memory_bytes: int | Unset = UNSET
    fuel: int | Unset = UNSET
    allowed_hosts: list[str] | Unset = UNSET
    kv_buckets: list[str] | Unset = UNSET
    config: DeployFunctionConfig | Unset = UNSET
    secrets: DeployFunctionSecrets | Unset = UNSET
    retry: RetryPolicy | Unset = UNSET
    grants: list[DeployFunctionGrantsType0Item] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        component_base64 = self.component_base64

        timeout_ms = self.timeout_ms

        memory_bytes = self.memory_bytes

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

        secrets: dict[str, Any] | Unset = UNSET
        if not isinstance(self.secrets, Unset):
            secrets = self.secrets.to_dict()

        retry: dict[str, Any] | Unset = UNSET
        if not isinstance(self.retry, Unset):
            retry = self.retry.to_dict()

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

        field_dict.update(
            {
                "component_base64": component_base64,
            }
        )
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
        from ..models.deploy_function_config import DeployFunctionConfig
        from ..models.deploy_function_grants_type_0_item import (
            DeployFunctionGrantsType0Item,
        )
        from ..models.deploy_function_secrets import DeployFunctionSecrets
        from ..models.retry_policy import RetryPolicy

        d = dict(src_dict)
        component_base64 = d.pop("component_base64")

        timeout_ms = d.pop("timeout_ms", UNSET)

        memory_bytes = d.pop("memory_bytes", UNSET)

        fuel = d.pop("fuel", UNSET)

        allowed_hosts = cast(list[str], d.pop("allowed_hosts", UNSET))

        kv_buckets = cast(list[str], d.pop("kv_buckets", UNSET))

        _config = d.pop("config", UNSET)
        config: DeployFunctionConfig | Unset
        if isinstance(_config, Unset):
            config = UNSET
        else:
            config = DeployFunctionConfig.from_dict(_config)

        _secrets = d.pop("secrets", UNSET)
        secrets: DeployFunctionSecrets | Unset
        if isinstance(_secrets, Unset):
            secrets = UNSET
        else:
            secrets = DeployFunctionSecrets.from_dict(_secrets)

        _retry = d.pop("retry", UNSET)
        retry: RetryPolicy | Unset
        if isinstance(_retry, Unset):
            retry = UNSET
        else:
            retry = RetryPolicy.from_dict(_retry)

        def _parse_grants(
            data: object,
        ) -> list[DeployFunctionGrantsType0Item] | None | Unset:
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
                    grants_type_0_item = DeployFunctionGrantsType0Item.from_dict(
                        grants_type_0_item_data
                    )

                    grants_type_0.append(grants_type_0_item)

                return grants_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[DeployFunctionGrantsType0Item] | None | Unset, data)

        grants = _parse_grants(d.pop("grants", UNSET))

        deploy_function = cls(
            component_base64=component_base64,
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

        return deploy_function
