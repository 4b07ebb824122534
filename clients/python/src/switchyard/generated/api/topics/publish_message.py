from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.publish_message_body import PublishMessageBody
from ...models.publish_message_response_201 import PublishMessageResponse201
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: PublishMessageBody,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/topics/{name}/messages".format(
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
) -> Any | Error | PublishMessageResponse201:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

    if response.status_code == 201:
        response_201 = PublishMessageResponse201.from_dict(response.json())

        return response_201

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Error | PublishMessageResponse201]:
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
    body: PublishMessageBody,
    idempotency_key: str | Unset = UNSET,
) -> Response[Any | Error | PublishMessageResponse201]:
    """Publish a message to a topic (appends a topic.message record)

    Args:
        space (str):
        name (str):
        idempotency_key (str | Unset):
        body (PublishMessageBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error | PublishMessageResponse201]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
        idempotency_key=idempotency_key,
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
    body: PublishMessageBody,
    idempotency_key: str | Unset = UNSET,
) -> Any | Error | PublishMessageResponse201 | None:
    """Publish a message to a topic (appends a topic.message record)

    Args:
        space (str):
        name (str):
        idempotency_key (str | Unset):
        body (PublishMessageBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error | PublishMessageResponse201
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: PublishMessageBody,
    idempotency_key: str | Unset = UNSET,
) -> Response[Any | Error | PublishMessageResponse201]:
    """Publish a message to a topic (appends a topic.message record)

    Args:
        space (str):
        name (str):
        idempotency_key (str | Unset):
        body (PublishMessageBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error | PublishMessageResponse201]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: PublishMessageBody,
    idempotency_key: str | Unset = UNSET,
) -> Any | Error | PublishMessageResponse201 | None:
    """Publish a message to a topic (appends a topic.message record)

    Args:
        space (str):
        name (str):
        idempotency_key (str | Unset):
        body (PublishMessageBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error | PublishMessageResponse201
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
