from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.put_quota_response_200 import PutQuotaResponse200
from ...models.quota import Quota
from ...types import Response


def _get_kwargs(
    space: str,
    *,
    body: Quota,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/v1/spaces/{space}/quota".format(
            space=quote(str(space), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | PutQuotaResponse200:
    if response.status_code == 200:
        response_200 = PutQuotaResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | PutQuotaResponse200]:
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
    body: Quota,
) -> Response[Error | PutQuotaResponse200]:
    """Replace a space's quota (quotas:write, which only sys-admin holds); applies on every node at once;
    audited as audit.quota_set

    Args:
        space (str):
        body (Quota): A space's limits; a limit left out is no limit

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutQuotaResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    body: Quota,
) -> Error | PutQuotaResponse200 | None:
    """Replace a space's quota (quotas:write, which only sys-admin holds); applies on every node at once;
    audited as audit.quota_set

    Args:
        space (str):
        body (Quota): A space's limits; a limit left out is no limit

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutQuotaResponse200
    """

    return sync_detailed(
        space=space,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    body: Quota,
) -> Response[Error | PutQuotaResponse200]:
    """Replace a space's quota (quotas:write, which only sys-admin holds); applies on every node at once;
    audited as audit.quota_set

    Args:
        space (str):
        body (Quota): A space's limits; a limit left out is no limit

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | PutQuotaResponse200]
    """

    kwargs = _get_kwargs(
        space=space,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    body: Quota,
) -> Error | PutQuotaResponse200 | None:
    """Replace a space's quota (quotas:write, which only sys-admin holds); applies on every node at once;
    audited as audit.quota_set

    Args:
        space (str):
        body (Quota): A space's limits; a limit left out is no limit

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | PutQuotaResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
            body=body,
        )
    ).parsed
