from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.put_bucket_body import PutBucketBody
from ...models.put_bucket_response_201 import PutBucketResponse201
from ...types import Response


def _get_kwargs(
    space: str,
    bucket: str,
    *,
    body: PutBucketBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/kv/{bucket}".format(
            space=quote(str(space), safe=""),
            bucket=quote(str(bucket), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Error | PutBucketResponse201:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

    if response.status_code == 201:
        response_201 = PutBucketResponse201.from_dict(response.json())

        return response_201

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Error | PutBucketResponse201]:
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
    body: PutBucketBody,
) -> Response[Any | Error | PutBucketResponse201]:
    """Create a KV bucket or change the revisions it keeps per key

    Args:
        space (str):
        bucket (str):
        body (PutBucketBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error | PutBucketResponse201]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        body=body,
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
    body: PutBucketBody,
) -> Any | Error | PutBucketResponse201 | None:
    """Create a KV bucket or change the revisions it keeps per key

    Args:
        space (str):
        bucket (str):
        body (PutBucketBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error | PutBucketResponse201
    """

    return sync_detailed(
        space=space,
        bucket=bucket,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    space: str,
    bucket: str,
    *,
    client: AuthenticatedClient | Client,
    body: PutBucketBody,
) -> Response[Any | Error | PutBucketResponse201]:
    """Create a KV bucket or change the revisions it keeps per key

    Args:
        space (str):
        bucket (str):
        body (PutBucketBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error | PutBucketResponse201]
    """

    kwargs = _get_kwargs(
        space=space,
        bucket=bucket,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    bucket: str,
    *,
    client: AuthenticatedClient | Client,
    body: PutBucketBody,
) -> Any | Error | PutBucketResponse201 | None:
    """Create a KV bucket or change the revisions it keeps per key

    Args:
        space (str):
        bucket (str):
        body (PutBucketBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error | PutBucketResponse201
    """

    return (
        await asyncio_detailed(
            space=space,
            bucket=bucket,
            client=client,
            body=body,
        )
    ).parsed
