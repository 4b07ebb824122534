from http import HTTPStatus
from io import BytesIO
from typing import Any
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.invocation import Invocation
from ...models.invocation_error import InvocationError
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    space: str,
    name: str,
    *,
    body: File | Unset = UNSET,
    version: int | Unset = UNSET,
    async_: bool | Unset = False,
    idempotency_key: str | Unset = UNSET,
    x_switchyard_trace_id: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    if not isinstance(x_switchyard_trace_id, Unset):
        headers["X-Switchyard-Trace-Id"] = x_switchyard_trace_id

    params: dict[str, Any] = {}

    params["version"] = version

    params["async"] = async_

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/spaces/{space}/functions/{name}/invoke".format(
            space=quote(str(space), safe=""),
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    if not isinstance(body, Unset):
        _kwargs["content"] = body.payload

    headers["Content-Type"] = "application/octet-stream"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | InvocationError | File | Invocation:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

        return response_200

    if response.status_code == 202:
        response_202 = Invocation.from_dict(response.json())

        return response_202

    if response.status_code == 403:

        def _parse_response_403(data: object) -> Error | InvocationError:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_403_type_0 = InvocationError.from_dict(data)

                return response_403_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_403_type_1 = Error.from_dict(data)

            return response_403_type_1

        response_403 = _parse_response_403(response.json())

        return response_403

    if response.status_code == 422:

        def _parse_response_422(data: object) -> Error | InvocationError:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_422_type_0 = InvocationError.from_dict(data)

                return response_422_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_422_type_1 = Error.from_dict(data)

            return response_422_type_1

        response_422 = _parse_response_422(response.json())

        return response_422

    if response.status_code == 502:
        response_502 = InvocationError.from_dict(response.json())

        return response_502

    if response.status_code == 503:

        def _parse_response_503(data: object) -> Error | InvocationError:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                response_503_type_0 = InvocationError.from_dict(data)

                return response_503_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            response_503_type_1 = Error.from_dict(data)

            return response_503_type_1

        response_503 = _parse_response_503(response.json())

        return response_503

    if response.status_code == 504:
        response_504 = InvocationError.from_dict(response.json())

        return response_504

    response_default = Error.from_dict(response.json())

    return response_default


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | InvocationError | File | Invocation]:
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
    body: File | Unset = UNSET,
    version: int | Unset = UNSET,
    async_: bool | Unset = False,
    idempotency_key: str | Unset = UNSET,
    x_switchyard_trace_id: str | Unset = UNSET,
) -> Response[Error | InvocationError | File | Invocation]:
    """Invoke a function (the body is the input, with its Content-Type): synchronously, answering with the
    output, or with async=true in the background

    Args:
        space (str):
        name (str):
        version (int | Unset):
        async_ (bool | Unset):  Default: False.
        idempotency_key (str | Unset):
        x_switchyard_trace_id (str | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Error | InvocationError | File | Invocation | InvocationError]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
        version=version,
        async_=async_,
        idempotency_key=idempotency_key,
        x_switchyard_trace_id=x_switchyard_trace_id,
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
    body: File | Unset = UNSET,
    version: int | Unset = UNSET,
    async_: bool | Unset = False,
    idempotency_key: str | Unset = UNSET,
    x_switchyard_trace_id: str | Unset = UNSET,
) -> Error | InvocationError | File | Invocation | None:
    """Invoke a function (the body is the input, with its Content-Type): synchronously, answering with the
    output, or with async=true in the background

    Args:
        space (str):
        name (str):
        version (int | Unset):
        async_ (bool | Unset):  Default: False.
        idempotency_key (str | Unset):
        x_switchyard_trace_id (str | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Error | InvocationError | File | Invocation | InvocationError
    """

    return sync_detailed(
        space=space,
        name=name,
        client=client,
        body=body,
        version=version,
        async_=async_,
        idempotency_key=idempotency_key,
        x_switchyard_trace_id=x_switchyard_trace_id,
    ).parsed


async def asyncio_detailed(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: File | Unset = UNSET,
    version: int | Unset = UNSET,
    async_: bool | Unset = False,
    idempotency_key: str | Unset = UNSET,
    x_switchyard_trace_id: str | Unset = UNSET,
) -> Response[Error | InvocationError | File | Invocation]:
    """Invoke a function (the body is the input, with its Content-Type): synchronously, answering with the
    output, or with async=true in the background

    Args:
        space (str):
        name (str):
        version (int | Unset):
        async_ (bool | Unset):  Default: False.
        idempotency_key (str | Unset):
        x_switchyard_trace_id (str | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Error | InvocationError | File | Invocation | InvocationError]
    """

    kwargs = _get_kwargs(
        space=space,
        name=name,
        body=body,
        version=version,
        async_=async_,
        idempotency_key=idempotency_key,
        x_switchyard_trace_id=x_switchyard_trace_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    space: str,
    name: str,
    *,
    client: AuthenticatedClient | Client,
    body: File | Unset = UNSET,
    version: int | Unset = UNSET,
    async_: bool | Unset = False,
    idempotency_key: str | Unset = UNSET,
    x_switchyard_trace_id: str | Unset = UNSET,
) -> Error | InvocationError | File | Invocation | None:
    """Invoke a function (the body is the input, with its Content-Type): synchronously, answering with the
    output, or with async=true in the background

    Args:
        space (str):
        name (str):
        version (int | Unset):
        async_ (bool | Unset):  Default: False.
        idempotency_key (str | Unset):
        x_switchyard_trace_id (str | Unset):
        body (File | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Error | InvocationError | File | Invocation | InvocationError
    """

    return (
        await asyncio_detailed(
            space=space,
            name=name,
            client=client,
            body=body,
            version=version,
            async_=async_,
            idempotency_key=idempotency_key,
            x_switchyard_trace_id=x_switchyard_trace_id,
        )
    ).parsed
