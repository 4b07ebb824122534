from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.cancel_run_body import CancelRunBody
from ...models.error import Error
from ...models.run import Run
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    id: str,
    *,
    body: CancelRunBody | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/runs/{id}/cancel".format(
            space=quote(str(space), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | Run:
    if response.status_code == 200:
        response_200 = Run.from_dict(response.json())

        return response_200

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | Run]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    space: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CancelRunBody | Unset = UNSET,
) -> Response[Error | Run]:
    """Cancel a run: its running node's work and its subflows are cancelled

    Args:
        space (str):
        id (str):
        body (CancelRunBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Run]
    """

    kwargs = _get_kwargs(
        space=space,
        id=id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CancelRunBody | Unset = UNSET,
) -> Error | Run | None:
    """Cancel a run: its running node's work and its subflows are cancelled

    Args:
        space (str):
        id (str):
        body (CancelRunBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Run
    """

    return sync_detailed(
        space=space,
        id=id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    space: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CancelRunBody | Unset = UNSET,
) -> Response[Error | Run]:
    """Cancel a run: its running node's work and its subflows are cancelled

    Args:
        space (str):
        id (str):
        body (CancelRunBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Run]
    """

    kwargs = _get_kwargs(
        space=space,
        id=id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    id: str,
    *,
    client: AuthenticatedClient | Client,
    body: CancelRunBody | Unset = UNSET,
) -> Error | Run | None:
    """Cancel a run: its running node's work and its subflows are cancelled

    Args:
        space (str):
        id (str):
        body (CancelRunBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Run
    """

    return (
        await asyncio_detailed(
            space=space,
            id=id,
            client=client,
            body=body,
        )
    ).parsed
