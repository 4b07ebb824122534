from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.list_deliveries_response_200 import ListDeliveriesResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["before"] = before

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/endpoints/{name}/deliveries".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ListDeliveriesResponse200:
    if response.status_code == 200:
        response_200 = ListDeliveriesResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ListDeliveriesResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[Error | ListDeliveriesResponse200]:
    """A page of an endpoint's deliveries, newest first

    Args:
        space (str):
        name (str):
        before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListDeliveriesResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        before=before,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Error | ListDeliveriesResponse200 | None:
    """A page of an endpoint's deliveries, newest first

    Args:
        space (str):
        name (str):
        before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListDeliveriesResponse200
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        before=before,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[Error | ListDeliveriesResponse200]:
    """A page of an endpoint's deliveries, newest first

    Args:
        space (str):
        name (str):
        before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListDeliveriesResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        before=before,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    before: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Error | ListDeliveriesResponse200 | None:
    """A page of an endpoint's deliveries, newest first

    Args:
        space (str):
        name (str):
        before (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListDeliveriesResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            before=before,
            limit=limit,
        )
    ).parsed
