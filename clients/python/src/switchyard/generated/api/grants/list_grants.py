from http import HTTPStatus
from typing import Any

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.list_grants_response_200 import ListGrantsResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    principal: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["principal"] = principal

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/grants",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ListGrantsResponse200:
    if response.status_code == 200:
        response_200 = ListGrantsResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ListGrantsResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    principal: str | Unset = UNSET,
) -> Response[Error | ListGrantsResponse200]:
    """List the grants the caller may see (its own, and those on patterns it holds grants:read on)

    Args:
        principal (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListGrantsResponse200]
    """

    kwargs = _get_kwargs(
        principal=principal,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    principal: str | Unset = UNSET,
) -> Error | ListGrantsResponse200 | None:
    """List the grants the caller may see (its own, and those on patterns it holds grants:read on)

    Args:
        principal (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListGrantsResponse200
    """

    return sync_detailed(
        client=client,
        principal=principal,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    principal: str | Unset = UNSET,
) -> Response[Error | ListGrantsResponse200]:
    """List the grants the caller may see (its own, and those on patterns it holds grants:read on)

    Args:
        principal (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListGrantsResponse200]
    """

    kwargs = _get_kwargs(
        principal=principal,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    principal: str | Unset = UNSET,
) -> Error | ListGrantsResponse200 | None:
    """List the grants the caller may see (its own, and those on patterns it holds grants:read on)

    Args:
        principal (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListGrantsResponse200
    """

    return (
        await asyncio_detailed(
            client=client,
            principal=principal,
        )
    ).parsed
