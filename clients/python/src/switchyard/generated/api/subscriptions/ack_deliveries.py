from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.ack_deliveries_body import AckDeliveriesBody
from ...models.ack_deliveries_response_200 import AckDeliveriesResponse200
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: AckDeliveriesBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/subscriptions/{name}/ack".format(
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
) -> AckDeliveriesResponse200 | Error:
    if response.status_code == 200:
        response_200 = AckDeliveriesResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AckDeliveriesResponse200 | Error]:
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
    body: AckDeliveriesBody,
) -> Response[AckDeliveriesResponse200 | Error]:
    """Acknowledge records by seq

    Args:
        space (str):
        name (str):
        body (AckDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AckDeliveriesResponse200 | Error]
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
    body: AckDeliveriesBody,
) -> AckDeliveriesResponse200 | Error | None:
    """Acknowledge records by seq

    Args:
        space (str):
        name (str):
        body (AckDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AckDeliveriesResponse200 | Error
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
    body: AckDeliveriesBody,
) -> Response[AckDeliveriesResponse200 | Error]:
    """Acknowledge records by seq

    Args:
        space (str):
        name (str):
        body (AckDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AckDeliveriesResponse200 | Error]
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
    body: AckDeliveriesBody,
) -> AckDeliveriesResponse200 | Error | None:
    """Acknowledge records by seq

    Args:
        space (str):
        name (str):
        body (AckDeliveriesBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AckDeliveriesResponse200 | Error
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
