from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.get_space_stats_response_200 import GetSpaceStatsResponse200
from ...types import Response


def _get_kwargs(
    space: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/stats".format(
            space=quote(str(space), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | GetSpaceStatsResponse200:
    if response.status_code == 200:
        response_200 = GetSpaceStatsResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | GetSpaceStatsResponse200]:
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
) -> Response[Error | GetSpaceStatsResponse200]:
    """A space at a glance: its live instances by machine and status, and its job queue

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | GetSpaceStatsResponse200]
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
) -> Error | GetSpaceStatsResponse200 | None:
    """A space at a glance: its live instances by machine and status, and its job queue

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | GetSpaceStatsResponse200
    """

    return sync_detailed(
        space=space,
        client=client,
    ).parsed


async def asyncio_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | GetSpaceStatsResponse200]:
    """A space at a glance: its live instances by machine and status, and its job queue

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | GetSpaceStatsResponse200]
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
) -> Error | GetSpaceStatsResponse200 | None:
    """A space at a glance: its live instances by machine and status, and its job queue

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | GetSpaceStatsResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
        )
    ).parsed
