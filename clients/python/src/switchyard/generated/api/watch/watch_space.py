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
    last_event_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id

    params: dict[str, Any] = {}

    params["from"] = from_

    params["address"] = address

    params["kind"] = kind

    params["state"] = state

    params["event"] = event

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/spaces/{space}/watch".format(
            space=quote(str(space), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Error:
    if response.status_code == 200:
        response_200 = cast(Any, None)
        return response_200

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
    last_event_id: str | Unset = UNSET,
) -> Response[Any | Error]:
    """Watch the log as Server-Sent Events (id = seq; Last-Event-ID resumes)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):
        last_event_id (str | Unset):

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
        last_event_id=last_event_id,
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
    last_event_id: str | Unset = UNSET,
) -> Any | Error | None:
    """Watch the log as Server-Sent Events (id = seq; Last-Event-ID resumes)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):
        last_event_id (str | Unset):

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
        last_event_id=last_event_id,
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
    last_event_id: str | Unset = UNSET,
) -> Response[Any | Error]:
    """Watch the log as Server-Sent Events (id = seq; Last-Event-ID resumes)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):
        last_event_id (str | Unset):

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
        last_event_id=last_event_id,
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
    last_event_id: str | Unset = UNSET,
) -> Any | Error | None:
    """Watch the log as Server-Sent Events (id = seq; Last-Event-ID resumes)

    Args:
        space (str):
        from_ (str | Unset):
        address (str | Unset):
        kind (str | Unset):
        state (str | Unset):
        event (str | Unset):
        last_event_id (str | Unset):

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
            last_event_id=last_event_id,
        )
    ).parsed
