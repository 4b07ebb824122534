from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.nack_deliveries_body import NackDeliveriesBody
from ...models.nack_deliveries_response_200 import NackDeliveriesResponse200
from ...types import Response


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: NackDeliveriesBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/subscriptions/{name}/nack".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | NackDeliveriesResponse200:
    if response.status_code == 200:
        response_200 = NackDeliveriesResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | NackDeliveriesResponse200]:
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
    body: NackDeliveriesBody,
) -> Response[Error | NackDeliveriesResponse200]:
    """End leases now so their records are delivered again (a lease is its seq and the deliveries its pull
    reported)

    Args:
        space (str):
        name (str):
        body (NackDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | NackDeliveriesResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
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
    body: NackDeliveriesBody,
) -> Error | NackDeliveriesResponse200 | None:
    """End leases now so their records are delivered again (a lease is its seq and the deliveries its pull
    reported)

    Args:
        space (str):
        name (str):
        body (NackDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | NackDeliveriesResponse200
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: NackDeliveriesBody,
) -> Response[Error | NackDeliveriesResponse200]:
    """End leases now so their records are delivered again (a lease is its seq and the deliveries its pull
    reported)

    Args:
        space (str):
        name (str):
        body (NackDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | NackDeliveriesResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: NackDeliveriesBody,
) -> Error | NackDeliveriesResponse200 | None:
    """End leases now so their records are delivered again (a lease is its seq and the deliveries its pull
    reported)

    Args:
        space (str):
        name (str):
        body (NackDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | NackDeliveriesResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
