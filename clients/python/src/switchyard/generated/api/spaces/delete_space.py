from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.space_deleted import SpaceDeleted
from ...types import Response


def _get_kwargs(
    space: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/spaces/{space}".format(
            space=quote(str(space), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | SpaceDeleted:
    if response.status_code == 200:
        response_200 = SpaceDeleted.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | SpaceDeleted]:
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
) -> Response[Error | SpaceDeleted]:
    """Delete a space and everything in it (admin of the space)

     Deletes, in one transaction, the space's machines (every version), instances, KV buckets and keys,
    subscriptions with their pending records and dead letters, functions (every version), invocation
    records, idempotency records and log records, and appends one space.deleted record. Tokens are kept.
    404 space_not_found when nothing of the space exists.

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | SpaceDeleted]
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
) -> Error | SpaceDeleted | None:
    """Delete a space and everything in it (admin of the space)

     Deletes, in one transaction, the space's machines (every version), instances, KV buckets and keys,
    subscriptions with their pending records and dead letters, functions (every version), invocation
    records, idempotency records and log records, and appends one space.deleted record. Tokens are kept.
    404 space_not_found when nothing of the space exists.

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | SpaceDeleted
    """

    return sync_detailed(
        space=space,
        client=client,
    ).parsed


async def asyncio_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Error | SpaceDeleted]:
    """Delete a space and everything in it (admin of the space)

     Deletes, in one transaction, the space's machines (every version), instances, KV buckets and keys,
    subscriptions with their pending records and dead letters, functions (every version), invocation
    records, idempotency records and log records, and appends one space.deleted record. Tokens are kept.
    404 space_not_found when nothing of the space exists.

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | SpaceDeleted]
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
) -> Error | SpaceDeleted | None:
    """Delete a space and everything in it (admin of the space)

     Deletes, in one transaction, the space's machines (every version), instances, KV buckets and keys,
    subscriptions with their pending records and dead letters, functions (every version), invocation
    records, idempotency records and log records, and appends one space.deleted record. Tokens are kept.
    404 space_not_found when nothing of the space exists.

    Args:
        space (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | SpaceDeleted
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
        )
    ).parsed
