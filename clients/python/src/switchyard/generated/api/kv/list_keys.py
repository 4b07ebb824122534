from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.list_keys_response_200 import ListKeysResponse200
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    bucket: str,
    *,
    prefix: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["prefix"] = prefix

    params["after"] = after

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/kv/{bucket}/keys".format(
            space=quote(str(space), safe=""),
            bucket=quote(str(bucket), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ListKeysResponse200:
    if response.status_code == 200:
        response_200 = ListKeysResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | ListKeysResponse200]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    bucket: str,
    *,
    client: AuthenticatedClient | Client,
    prefix: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[Error | ListKeysResponse200]:
    """List a bucket's live keys, by key

    Args:
        space (str):
        bucket (str):
        prefix (str | Unset):
        after (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListKeysResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        prefix=prefix,
        after=after,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    bucket: str,
    *,
    client: AuthenticatedClient | Client,
    prefix: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Error | ListKeysResponse200 | None:
    """List a bucket's live keys, by key

    Args:
        space (str):
        bucket (str):
        prefix (str | Unset):
        after (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListKeysResponse200
    """

    return sync_detailed(
        space=space,
        bucket=bucket,
        client=client,
        prefix=prefix,
        after=after,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    space: str,
    bucket: str,
    *,
    client: AuthenticatedClient | Client,
    prefix: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Response[Error | ListKeysResponse200]:
    """List a bucket's live keys, by key

    Args:
        space (str):
        bucket (str):
        prefix (str | Unset):
        after (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ListKeysResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        prefix=prefix,
        after=after,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    bucket: str,
    *,
    client: AuthenticatedClient | Client,
    prefix: str | Unset = UNSET,
    after: str | Unset = UNSET,
    limit: int | Unset = UNSET,
) -> Error | ListKeysResponse200 | None:
    """List a bucket's live keys, by key

    Args:
        space (str):
        bucket (str):
        prefix (str | Unset):
        after (str | Unset):
        limit (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ListKeysResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            bucket=bucket,
            client=client,
            prefix=prefix,
            after=after,
            limit=limit,
        )
    ).parsed
