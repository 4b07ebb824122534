from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.list_env_response_200_env_item import ListEnvResponse200EnvItem


T = TypeVar("T", bound="ListEnvResponse200")


@_attrs_define
class ListEnvResponse200:
    """
    Attributes:
        env (list[ListEnvResponse200EnvItem] | Unset):
    """

    env: list[ListEnvResponse200EnvItem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        env: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.env, Unset):
            env = []
            for env_item_data in self.env:
                env_item = env_item_data.to_dict()
                env.append(env_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if env is not UNSET:
            field_dict["env"] = env

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.list_env_response_200_env_item import ListEnvResponse200EnvItem

        d = dict(src_dict)
        _env = d.pop("env", UNSET)
        env: list[ListEnvResponse200EnvItem] | Unset = UNSET
        if _env is not UNSET:
            env = []
            for env_item_data in _env:
                env_item = ListEnvResponse200EnvItem.from_dict(env_item_data)

                env.append(env_item)

        list_env_response_200 = cls(
            env=env,
        )

        list_env_response_200.additional_properties = d
        return list_env_response_200

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
