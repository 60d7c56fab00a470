"""A batch's matching work (segmentation, encoding, scoring) off the event loop, a few listings per hop to a
thread.

A process told to stop (SIGTERM in `market worker`) has its tasks cancelled at once, but asyncio waits for
the thread's job to return before it can exit: a whole batch's work in one job kept a worker at nice 10 on
a busy machine running long after SIGTERM. Cut into hops, a stop waits for one hop. (An import job still
parses its file, and validates 500 rows, in one job each: `services/imports.py`.)"""

import asyncio
from collections.abc import Callable

PER_HOP = 10  # ~50 ms of scoring or ~170 ms of encoding on one core


async def off_the_loop(work: Callable[[list], list], inputs: list) -> list:
    """`work` (a list of inputs → a list of results) over `inputs`, PER_HOP at a time; the results in order."""
    done: list = []
    for start in range(0, len(inputs), PER_HOP):
        done.extend(await asyncio.to_thread(work, inputs[start:start + PER_HOP]))
    return done
