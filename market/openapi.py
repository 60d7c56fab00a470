"""The published OpenAPI document: built once from the app, written to `openapi.json` by `make openapi`.

The file is committed so every contract change shows in review; a test compares it with the app's.
Generation must be deterministic (sorted keys, no run-time values), since branches regenerate it at merge.
"""

import json
import sys
from pathlib import Path

from fastapi import FastAPI

from market.settings import PROJECT_ROOT, Settings

DOCUMENT = PROJECT_ROOT / "openapi.json"


def render(app: FastAPI) -> str:
    """The document as committed: sorted keys, two-space indent, Chinese kept readable, final newline."""
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def contract_app() -> FastAPI:
    """The app as the contract sees it: no environment, no connections (the lifespan is not run)."""
    from market.app import create_app

    return create_app(Settings(_env_file=None, database_url="postgresql://contract/contract",
                               meili_url="http://contract.invalid"))


def main(argv: list[str]) -> None:
    target = Path(argv[1]) if len(argv) > 1 else DOCUMENT
    target.write_text(render(contract_app()), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv)
