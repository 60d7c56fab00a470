"""The field taxonomy and the regions, loaded once from seed/taxonomy (data, never code)."""

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from services.errors import Invalid

SEED = Path(__file__).resolve().parent.parent / "seed"


@dataclass(frozen=True)
class FieldNode:
    code: str
    name: str
    group: str
    parent: str | None
    related: tuple[str, ...] = ()
    children: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    city: str

    @property
    def scope(self) -> str:
        """`cd` (Chengdu, local), `sc` (rest of Sichuan) or `cn` (elsewhere)."""
        return self.code.split(".", 1)[0]


class Taxonomy:
    def __init__(self, fields: dict[str, FieldNode], regions: dict[str, Region]):
        self.fields = fields
        self.regions = regions

    @classmethod
    def load(cls, folder: Path = SEED / "taxonomy") -> "Taxonomy":
        fields: dict[str, FieldNode] = {}
        for top in yaml.safe_load((folder / "fields.yaml").read_text(encoding="utf-8")):
            children = tuple(c["code"] for c in top.get("children", []))
            fields[top["code"]] = FieldNode(top["code"], top["name"], top["group"], None,
                                            tuple(top.get("related", [])), children)
            for child in top.get("children", []):
                fields[child["code"]] = FieldNode(child["code"], child["name"], top["group"], top["code"])
        regions = {
            r["code"]: Region(r["code"], r["name"], r["city"])
            for r in yaml.safe_load((folder / "regions.yaml").read_text(encoding="utf-8"))
        }
        return cls(fields, regions)

    def top(self, code: str) -> str:
        node = self.fields[code]
        return node.parent or node.code

    def path(self, code: str) -> list[str]:
        """The field and its parent: a filter on a field matches its sub-fields through this."""
        node = self.fields[code]
        return [node.parent, code] if node.parent else [code]

    def related(self, code: str) -> set[str]:
        return set(self.fields[self.top(code)].related)

    def check_field(self, code: str, name: str = "field") -> str:
        if code not in self.fields:
            raise Invalid(f"unknown field code {code!r}; see GET /v1/taxonomy/fields", code="taxonomy.unknown_field",
                          field=name)
        return code

    def check_region(self, code: str | None, name: str = "region") -> str | None:
        if code is not None and code not in self.regions:
            raise Invalid(f"unknown region code {code!r}; see GET /v1/taxonomy/regions",
                          code="taxonomy.unknown_region", field=name)
        return code


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    return Taxonomy.load()
