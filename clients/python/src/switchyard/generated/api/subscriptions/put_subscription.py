from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.put_subscription_body import PutSubscriptionBody
from ...models.put_subscription_response_201 import PutSubscriptionResponse201
from ...types import Response


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: PutSubscriptionBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/subscriptions/{name}".format(
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
) -> Any | Error | PutSubscriptionResponse201:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

    if response.status_code == 201:
        response_201 = PutSubscriptionResponse201.from_dict(response.json())

        return response_201

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Error | PutSubscriptionResponse201]:
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
    body: PutSubscriptionBody,
) -> Response[Any | Error | PutSubscriptionResponse201]:
    """Create a durable subscription, or update the settings of one with the same filter

    Args:
        space (str):
        name (str):
        body (PutSubscriptionBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error | PutSubscriptionResponse201]
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
    body: PutSubscriptionBody,
) -> Any | Error | PutSubscriptionResponse201 | None:
    """Create a durable subscription, or update the settings of one with the same filter

    Args:
        space (str):
        name (str):
        body (PutSubscriptionBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error | PutSubscriptionResponse201
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
    body: PutSubscriptionBody,
) -> Response[Any | Error | PutSubscriptionResponse201]:
    """Create a durable subscription, or update the settings of one with the same filter

    Args:
        space (str):
        name (str):
        body (PutSubscriptionBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error | PutSubscriptionResponse201]
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
    body: PutSubscriptionBody,
) -> Any | Error | PutSubscriptionResponse201 | None:
    """Create a durable subscription, or update the settings of one with the same filter

    Args:
        space (str):
        name (str):
        body (PutSubscriptionBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error | PutSubscriptionResponse201
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
