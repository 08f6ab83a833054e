#!/usr/bin/env python
"""A fast webhook receiver in its own process, for bench/webhooks.py: every request gets
200 at once (bench/flowbench.AsyncReceiver, the receiver of the flow benchmark).

    python bench/receiver.py --port N
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flowbench import AsyncReceiver  # noqa: E402


async def serve(port: int) -> None:
    receiver = AsyncReceiver()
    server = await asyncio.start_server(receiver._serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
