"""Tests that run the platform on the NATS JetStream server give it a stream of their own
(``TEST_…``) and delete it afterwards: the server is shared by every run of the suite on the
machine (CI's too), and a stream left behind keeps its messages and consumers there."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import nats.js.errors


def delete_stream(url: str, stream: str) -> None:
    """Delete ``stream`` on the server at ``url``; one that is not there is no error."""

    async def delete() -> None:
        connection = await nats.connect(url)
        try:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await connection.jetstream().delete_stream(stream)
        finally:
            await connection.close()

    asyncio.run(delete())
