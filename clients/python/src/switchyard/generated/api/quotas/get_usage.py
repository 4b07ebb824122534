from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.get_usage_response_200 import GetUsageResponse200
from ...types import Response


def _get_kwargs(
    space: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/usage".format(
            space=quote(str(space), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | GetUsageResponse200:
    if response.status_code == 200:
        response_200 = GetUsageResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | GetUsageResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | GetUsageResponse200]:
    """What a space may hold and do (its quota), what it holds (measured now) and what it did (the meters
    of every node)

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | GetUsageResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    *,
    client: AuthenticatedClient | Client,
) -> Error | GetUsageResponse200 | None:
    """What a space may hold and do (its quota), what it holds (measured now) and what it did (the meters
    of every node)

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | GetUsageResponse200
    """

    return sync_detailed(
        space=space,
        client=client,
    ).parsed


async def asyncio_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | GetUsageResponse200]:
    """What a space may hold and do (its quota), what it holds (measured now) and what it did (the meters
    of every node)

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | GetUsageResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    *,
    client: AuthenticatedClient | Client,
) -> Error | GetUsageResponse200 | None:
    """What a space may hold and do (its quota), what it holds (measured now) and what it did (the meters
    of every node)

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | GetUsageResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
        )
    ).parsed
