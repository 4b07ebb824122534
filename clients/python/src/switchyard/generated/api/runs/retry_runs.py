from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.retry_runs_response_200 import RetryRunsResponse200
from ...models.run_filter import RunFilter
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    *,
    body: RunFilter | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/runs/retry".format(
            space=quote(str(space), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | RetryRunsResponse200:
    if response.status_code == 200:
        response_200 = RetryRunsResponse200.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | RetryRunsResponse200]:
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
    body: RunFilter | Unset = UNSET,
) -> Response[Error | RetryRunsResponse200]:
    """Retry every failed or cancelled run the filter selects (at most 1000)

    Args:
        space (str):
        body (RunFilter | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RetryRunsResponse200]
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
    body: RunFilter | Unset = UNSET,
) -> Error | RetryRunsResponse200 | None:
    """Retry every failed or cancelled run the filter selects (at most 1000)

    Args:
        space (str):
        body (RunFilter | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RetryRunsResponse200
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
    body: RunFilter | Unset = UNSET,
) -> Response[Error | RetryRunsResponse200]:
    """Retry every failed or cancelled run the filter selects (at most 1000)

    Args:
        space (str):
        body (RunFilter | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RetryRunsResponse200]
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
    body: RunFilter | Unset = UNSET,
) -> Error | RetryRunsResponse200 | None:
    """Retry every failed or cancelled run the filter selects (at most 1000)

    Args:
        space (str):
        body (RunFilter | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RetryRunsResponse200
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
            body=body,
        )
    ).parsed
