"""The generated city-scale data set (`bench.match_speed.load`, then indexed by `market reindex`), kept
as a golden copy by `bench.stack` so that each benchmark run starts from the same data in seconds."""

from bench.match_speed import load
from bench.stack import Prepare
from services.search.sync import rebuild


def dataset(achievements: int, needs: int) -> tuple[str, Prepare]:
    async def prepare(ctx) -> None:
        await load(ctx, achievements, needs)
        await rebuild(ctx)

    return f"a{achievements}_n{needs}", prepare
