from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    space: str,
    *,
    from_: str | Unset = UNSET,
    address: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    state: str | Unset = UNSET,
    event: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["from"] = from_

    params["address"] = address

    params["kind"] = kind

    params["state"] = state

    params["event"] = event

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/watch/ws".format(
            space=quote(str(space), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Error:
    if response.status_code == 101:
        response_101 = cast(Any, None)
        return response_101

    if response.status_code == 426:
        response_426 = Error.from_dict(response.json())

        return response_426

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Error]:
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
    from_: str | Unset = UNSET,
    address: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    state: str | Unset = UNSET,
    event: str | Unset = UNSET,
) -> Response[Any | Error]:
    """Watch the log over WebSocket (one LogRecord JSON text message each)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error]
    """

    kwargs = _get_kwargs(
        space=space,
        from_=from_,
        address=address,
        kind=kind,
        state=state,
        event=event,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    from_: str | Unset = UNSET,
    address: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    state: str | Unset = UNSET,
    event: str | Unset = UNSET,
) -> Any | Error | None:
    """Watch the log over WebSocket (one LogRecord JSON text message each)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error
    """

    return sync_detailed(
        space=space,
        client=client,
        from_=from_,
        address=address,
        kind=kind,
        state=state,
        event=event,
    ).parsed


async def asyncio_detailed(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    from_: str | Unset = UNSET,
    address: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    state: str | Unset = UNSET,
    event: str | Unset = UNSET,
) -> Response[Any | Error]:
    """Watch the log over WebSocket (one LogRecord JSON text message each)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Error]
    """

    kwargs = _get_kwargs(
        space=space,
        from_=from_,
        address=address,
        kind=kind,
        state=state,
        event=event,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    *,
    client: AuthenticatedClient | Client,
    from_: str | Unset = UNSET,
    address: str | Unset = UNSET,
    kind: str | Unset = UNSET,
    state: str | Unset = UNSET,
    event: str | Unset = UNSET,
) -> Any | Error | None:
    """Watch the log over WebSocket (one LogRecord JSON text message each)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Error
    """

    return (
        await asyncio_detailed(
            space=space,
            client=client,
            from_=from_,
            address=address,
            kind=kind,
            state=state,
            event=event,
        )
    ).parsed
