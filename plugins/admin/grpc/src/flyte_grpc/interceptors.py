"""Client interceptors: auth header, request id, per-call deadline, retries of idempotent calls.

- Every call gets ``x-request-id`` and, once a token is held (or the server asked for one), the auth header.
- Unary calls without an explicit ``timeout=`` get ``settings.timeout`` as their deadline; retries share
  that one deadline instead of each starting a new one.
- UNAVAILABLE and RESOURCE_EXHAUSTED are retried with exponential backoff and full jitter, but only for
  idempotent methods (reads, watches, signed-URL creation): a CreateRun that may have reached the server is
  never sent twice.
- UNAUTHENTICATED refreshes the token once and repeats the call (the server refused it before acting).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio

from flyte_grpc.auth import Authenticator

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
IDEMPOTENT_PREFIXES = ("Get", "List", "Watch", "Tail", "Select", "UserInfo")
IDEMPOTENT_METHODS = frozenset({
    # Creating a signed URL changes nothing on the server: asking twice is harmless.
    "/flyteidl2.dataproxy.DataProxyService/CreateUploadLocation",
    "/flyteidl2.dataproxy.DataProxyService/CreateDownloadLink",
})
NO_AUTH_SERVICES = ("/flyteidl2.auth.AuthMetadataService/",)


def method_name(details: grpc.aio.ClientCallDetails) -> str:
    m = details.method
    return m.decode() if isinstance(m, bytes) else str(m)


def is_idempotent(method: str) -> bool:
    if method in IDEMPOTENT_METHODS:
        return True
    return method.rsplit("/", 1)[-1].startswith(IDEMPOTENT_PREFIXES)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * (2**attempt)))


class _Base:
    def __init__(
        self,
        auth: Authenticator | None,
        *,
        timeout: float,
        retries: int,
        backoff_base: float = 0.1,
        backoff_cap: float = 3.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.attempts: dict[str, int] = {}  # method -> calls sent, for tests and diagnostics

    async def _details(
        self, details: grpc.aio.ClientCallDetails, timeout: float | None
    ) -> tuple[grpc.aio.ClientCallDetails, str | None]:
        method = method_name(details)
        md = grpc.aio.Metadata()
        for k, v in details.metadata or ():
            md.add(k, v)
        if "x-request-id" not in md:
            md.add("x-request-id", uuid.uuid4().hex)
        sent: str | None = None
        if self.auth is not None and not method.startswith(NO_AUTH_SERVICES):
            hdr = await self.auth.header()
            if hdr is not None:
                md[hdr[0]] = hdr[1]
                sent = hdr[1].removeprefix("Bearer ")  # exactly the token this call carries
        self.attempts[method] = self.attempts.get(method, 0) + 1
        return grpc.aio.ClientCallDetails(details.method, timeout, md, details.credentials,
                                          details.wait_for_ready), sent


class UnaryUnaryInterceptor(_Base, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        method = method_name(details)
        deadline = time.monotonic() + (details.timeout if details.timeout is not None else self.timeout)
        retry = is_idempotent(method)
        attempt = 0
        reauthed = False
        while True:
            remaining = max(0.001, deadline - time.monotonic())
            d, sent = await self._details(details, remaining)
            call = await continuation(d, request)
            try:
                return await call
            except grpc.aio.AioRpcError as e:
                code = e.code()
                if code == grpc.StatusCode.UNAUTHENTICATED and self.auth is not None and not reauthed \
                        and not method.startswith(NO_AUTH_SERVICES):
                    reauthed = True
                    await self.auth.refresh(sent)
                    continue
                if code in RETRYABLE and retry and attempt < self.retries:
                    pause = backoff(attempt, self.backoff_base, self.backoff_cap)
                    if time.monotonic() + pause < deadline:
                        attempt += 1
                        await self.sleep(pause)
                        continue
                raise


class UnaryStreamInterceptor(_Base, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        # Streams get no default deadline (a watch lasts as long as the run); resumption lives in watch.py.
        d, _ = await self._details(details, details.timeout)
        return await continuation(d, request)
