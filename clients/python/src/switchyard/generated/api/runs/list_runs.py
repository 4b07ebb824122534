from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.list_runs_response_200 import ListRunsResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    *,
    flow: str | Unset = UNSET,
    status: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["flow"] = flow

    params["status"] = status

    params["since"] = since

    params["until"] = until

    params["limit"] = limit

    params["cursor"] = cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/runs".format(
            space=quote(str(space), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ListRunsResponse200:
    if response.status_code == 200:
        response_200 = ListRunsResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ListRunsResponse200]:
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
    flow: str | Unset = UNSET,
    status: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Error | ListRunsResponse200]:
    """Runs of the space's flows, newest first

    Args:
        space (str):
        flow (str | Unset):
        status (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListRunsResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        flow=flow,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    flow: str | Unset = UNSET,
    status: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Error | ListRunsResponse200 | None:
    """Runs of the space's flows, newest first

    Args:
        space (str):
        flow (str | Unset):
        status (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListRunsResponse200
    """

    return sync_detailed(
        space=space,
        client=client,
        flow=flow,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    flow: str | Unset = UNSET,
    status: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Response[Error | ListRunsResponse200]:
    """Runs of the space's flows, newest first

    Args:
        space (str):
        flow (str | Unset):
        status (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListRunsResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        flow=flow,
        status=status,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    flow: str | Unset = UNSET,
    status: str | Unset = UNSET,
    since: str | Unset = UNSET,
    until: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    cursor: str | Unset = UNSET,
) -> Error | ListRunsResponse200 | None:
    """Runs of the space's flows, newest first

    Args:
        space (str):
        flow (str | Unset):
        status (str | Unset):
        since (str | Unset):
        until (str | Unset):
        limit (int | Unset):
        cursor (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListRunsResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
            flow=flow,
            status=status,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
