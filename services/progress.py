"""How a long job (import, reindex, match --all, seed) reports its progress without knowing who shows it:
the CLI draws a bar, the API records counts, tests ignore it."""

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int | None) -> None:
        """The job knows (or has no idea of) how many units it will do."""

    def advance(self, done: int = 1) -> None:
        """`done` more units are finished."""


class Silent:
    """Progress nobody watches."""

    def start(self, total: int | None) -> None:
        pass

    def advance(self, done: int = 1) -> None:
        pass


SILENT = Silent()
