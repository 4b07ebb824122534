from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.fire_trigger_body import FireTriggerBody
from ...models.trigger_execution import TriggerExecution
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: FireTriggerBody | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/triggers/{name}/fire".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
    }

    if not isinstance(body, Unset):
        _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | TriggerExecution:
    if response.status_code == 202:
        response_202 = TriggerExecution.from_dict(response.json())

        return response_202

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | TriggerExecution]:
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
    body: FireTriggerBody | Unset = UNSET,
) -> Response[Error | TriggerExecution]:
    """Fire a trigger now (body: a webhook's body or an event pattern's record)

    Args:
        space (str):
        name (str):
        body (FireTriggerBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | TriggerExecution]
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
    body: FireTriggerBody | Unset = UNSET,
) -> Error | TriggerExecution | None:
    """Fire a trigger now (body: a webhook's body or an event pattern's record)

    Args:
        space (str):
        name (str):
        body (FireTriggerBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | TriggerExecution
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
    body: FireTriggerBody | Unset = UNSET,
) -> Response[Error | TriggerExecution]:
    """Fire a trigger now (body: a webhook's body or an event pattern's record)

    Args:
        space (str):
        name (str):
        body (FireTriggerBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | TriggerExecution]
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
    body: FireTriggerBody | Unset = UNSET,
) -> Error | TriggerExecution | None:
    """Fire a trigger now (body: a webhook's body or an event pattern's record)

    Args:
        space (str):
        name (str):
        body (FireTriggerBody | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | TriggerExecution
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
        )
    ).parsed
