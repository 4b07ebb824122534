from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.pull_deliveries_response_200 import PullDeliveriesResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    max_: int | Unset = UNSET,
    lease: str | Unset = UNSET,
    wait: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["max"] = max_

    params["lease"] = lease

    params["wait"] = wait

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/subscriptions/{name}/pull".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | PullDeliveriesResponse200:
    if response.status_code == 200:
        response_200 = PullDeliveriesResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | PullDeliveriesResponse200]:
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
    max_: int | Unset = UNSET,
    lease: str | Unset = UNSET,
    wait: str | Unset = UNSET,
) -> Response[Error | PullDeliveriesResponse200]:
    """Lease up to max records (redeliveries first)

    Args:
        space (str):
        name (str):
        max_ (int | Unset):
        lease (str | Unset):
        wait (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PullDeliveriesResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        max_=max_,
        lease=lease,
        wait=wait,
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
    max_: int | Unset = UNSET,
    lease: str | Unset = UNSET,
    wait: str | Unset = UNSET,
) -> Error | PullDeliveriesResponse200 | None:
    """Lease up to max records (redeliveries first)

    Args:
        space (str):
        name (str):
        max_ (int | Unset):
        lease (str | Unset):
        wait (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PullDeliveriesResponse200
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        max_=max_,
        lease=lease,
        wait=wait,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    max_: int | Unset = UNSET,
    lease: str | Unset = UNSET,
    wait: str | Unset = UNSET,
) -> Response[Error | PullDeliveriesResponse200]:
    """Lease up to max records (redeliveries first)

    Args:
        space (str):
        name (str):
        max_ (int | Unset):
        lease (str | Unset):
        wait (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PullDeliveriesResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        max_=max_,
        lease=lease,
        wait=wait,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    max_: int | Unset = UNSET,
    lease: str | Unset = UNSET,
    wait: str | Unset = UNSET,
) -> Error | PullDeliveriesResponse200 | None:
    """Lease up to max records (redeliveries first)

    Args:
        space (str):
        name (str):
        max_ (int | Unset):
        lease (str | Unset):
        wait (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PullDeliveriesResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            max_=max_,
            lease=lease,
            wait=wait,
        )
    ).parsed
