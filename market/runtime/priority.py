"""The worker's CPU priority: on a machine it shares with the API (and Meilisearch, and PostgreSQL), its
lead recomputations (live-match-sized multi-searches) run in the CPU the requests leave over instead of
competing with them. On a machine of its own a lower priority costs nothing."""

import os


def lower_priority(niceness: int) -> int:
    """Run this process (and the threads it starts from now on) at `niceness` (WORKER_NICE), never at a
    higher priority than it already has (raising it needs privileges); returns the niceness now in force."""
    current = os.nice(0)
    if niceness > current:
        current = os.nice(niceness - current)
    return current
