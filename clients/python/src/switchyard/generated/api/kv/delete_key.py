from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.delete_key_response_200 import DeleteKeyResponse200
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    bucket: str,
    key: str,
    *,
    if_match: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/spaces/{space}/kv/{bucket}/keys/{key}".format(
            space=quote(str(space), safe=""),
            bucket=quote(str(bucket), safe=""),
            key=quote(str(key), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeleteKeyResponse200 | Error:
    if response.status_code == 200:
        response_200 = DeleteKeyResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DeleteKeyResponse200 | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    if_match: str | Unset = UNSET,
) -> Response[DeleteKeyResponse200 | Error]:
    r"""Delete a key (If-Match: \"<revision>\" to delete only that revision)

    Args:
        space (str):
        bucket (str):
        key (str):
        if_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeleteKeyResponse200 | Error]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        key=key,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    if_match: str | Unset = UNSET,
) -> DeleteKeyResponse200 | Error | None:
    r"""Delete a key (If-Match: \"<revision>\" to delete only that revision)

    Args:
        space (str):
        bucket (str):
        key (str):
        if_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeleteKeyResponse200 | Error
    """

    return sync_detailed(
        space=space,
        bucket=bucket,
        key=key,
        client=client,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    if_match: str | Unset = UNSET,
) -> Response[DeleteKeyResponse200 | Error]:
    r"""Delete a key (If-Match: \"<revision>\" to delete only that revision)

    Args:
        space (str):
        bucket (str):
        key (str):
        if_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeleteKeyResponse200 | Error]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        key=key,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    bucket: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    if_match: str | Unset = UNSET,
) -> DeleteKeyResponse200 | Error | None:
    r"""Delete a key (If-Match: \"<revision>\" to delete only that revision)

    Args:
        space (str):
        bucket (str):
        key (str):
        if_match (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeleteKeyResponse200 | Error
    """

    return (
        await asyncio_detailed(
            space=space,
            bucket=bucket,
            key=key,
            client=client,
            if_match=if_match,
        )
    ).parsed
