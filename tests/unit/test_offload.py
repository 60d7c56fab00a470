"""A batch's matching work goes to a thread a few listings per hop, so a stop waits for one hop only."""

import asyncio

import pytest

from services.matching import offload


async def test_a_stop_during_a_hop_ends_the_work_after_that_hop(monkeypatch):
    """SIGTERM cancels the worker's tasks at once, but the process exits only when the thread's job returns:
    once cancelled, no further hop is handed to the thread (events not marked processed are claimed again
    once their lease runs out)."""
    monkeypatch.setattr(offload, "PER_HOP", 2)
    loop, handed, stopping = asyncio.get_running_loop(), [], []

    def scoring_then_stopped(listings: list) -> list:
        handed.append(listings)  # before the stop is even sent: nothing races this record
        loop.call_soon_threadsafe(stopping[0].cancel)  # the stop arrives while these are scored
        return listings

    stopping.append(asyncio.create_task(offload.off_the_loop(scoring_then_stopped, list(range(6)))))
    with pytest.raises(asyncio.CancelledError):
        await stopping[0]
    assert handed == [[0, 1]]  # the hop in hand, not the six


async def test_the_results_come_back_in_order_across_hops(monkeypatch):
    monkeypatch.setattr(offload, "PER_HOP", 2)
    assert await offload.off_the_loop(lambda chunk: [n * n for n in chunk], list(range(5))) == [0, 1, 4, 9, 16]
    assert await offload.off_the_loop(lambda chunk: chunk, []) == []
