"""A batch's CPU work (segmentation, encoding, scoring) off the event loop, a few items per hop to a thread.

A process told to stop (SIGTERM in `market worker`) has its tasks cancelled at once, but exits only when
the thread's job returns (asyncio.run waits for its executor): a whole batch's work in one job kept a
worker at nice 10 on a busy machine running for minutes after SIGTERM. Cut into hops, it stops after one."""

import asyncio
from collections.abc import Callable

ITEMS_PER_HOP = 10  # ~50 ms of scoring or ~170 ms of encoding on one core


async def off_the_loop(work: Callable[[list], list], items: list) -> list:
    """`work` (a list of items → a list of results) over `items`, ITEMS_PER_HOP at a time; the results in order."""
    done: list = []
    for start in range(0, len(items), ITEMS_PER_HOP):
        done.extend(await asyncio.to_thread(work, items[start:start + ITEMS_PER_HOP]))
    return done
