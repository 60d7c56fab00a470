"""The field taxonomy and the regions, loaded once from seed/taxonomy (data, never code).

Input may name a field or a region forgivingly: its code, or its Chinese name in either script, with or
without the 市/区/县/新区 suffix or a leading 四川省/成都市, or a known alias (seed/taxonomy/aliases.yaml).
Nothing that matches is a 422 with the closest candidates.
"""

import difflib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from services.errors import Invalid
from services.text import normalise

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


_REGION_SUFFIX = re.compile(r"(特别行政区|自治区|新区|地区|省|市|区|县)$")
_REGION_PREFIX = re.compile(r"^(四川省?|成都市?)(?=.)")


def _region_keys(name: str) -> set[str]:
    """A region name's folded forms: 四川天府新区 → 四川天府新区, 天府新区, 四川天府, 天府."""
    keys = {normalise(name)}
    for key in list(keys):
        keys.add(_REGION_PREFIX.sub("", key))
    for key in list(keys):
        keys.add(_REGION_SUFFIX.sub("", key))
    return {k for k in keys if k}


def _field_keys(name: str) -> set[str]:
    """A field name's folded forms: 现代都市农业 / 种业 → the whole, 现代都市农业 and 种业."""
    whole = normalise(name)
    return {whole, whole.replace(" ", ""), *(part.strip() for part in whole.split("/"))} - {""}


def _index(names: dict[str, set[str]], aliases: dict[str, str]) -> dict[str, set[str]]:
    """folded name -> codes; a name shared by several codes stays ambiguous (the caller gets both)."""
    index: dict[str, set[str]] = {}
    for code, keys in names.items():
        for key in keys:
            index.setdefault(key, set()).add(code)
    for alias, code in aliases.items():
        index[normalise(alias)] = {code}
    return index


class Taxonomy:
    def __init__(self, fields: dict[str, FieldNode], regions: dict[str, Region],
                 aliases: dict[str, dict[str, str]] | None = None):
        self.fields = fields
        self.regions = regions
        self.aliases = aliases or {}

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
        aliases = yaml.safe_load((folder / "aliases.yaml").read_text(encoding="utf-8"))
        return cls(fields, regions, aliases)

    @cached_property
    def _field_names(self) -> dict[str, set[str]]:
        # A sub-field's own name wins over a parent's part name (种业 is the seeds sub-field).
        index = _index({c: _field_keys(n.name) for c, n in self.fields.items()}, self.aliases.get("fields", {}))
        for code, node in self.fields.items():
            index[normalise(node.name)] = {code} | (index[normalise(node.name)] - {node.parent})
        return index

    @cached_property
    def _region_names(self) -> dict[str, set[str]]:
        return _index({c: _region_keys(r.name) for c, r in self.regions.items()}, self.aliases.get("regions", {}))

    def _resolve(self, value: str, codes: dict, names: dict[str, set[str]], folds, what: str, name: str,
                 code: str) -> str:
        value = value.strip()
        if value in codes:
            return value
        if value.lower() in codes:
            return value.lower()
        found: set[str] = set()
        for key in folds(value):
            found |= names.get(key, set())
            if len(found) == 1:
                return next(iter(found))
        if found:
            raise Invalid(f"{what} {value!r} is ambiguous: one of {self._describe(sorted(found), codes)}",
                          code=code, field=name)
        close = difflib.get_close_matches(normalise(value), list(names), n=3, cutoff=0.4)
        candidates = sorted({c for key in close for c in names[key]})
        hint = f"; closest: {self._describe(candidates, codes)}" if candidates else ""
        raise Invalid(f"unknown {what} {value!r}{hint}; see GET /v1/taxonomy/{what}s", code=code, field=name)

    @staticmethod
    def _describe(codes: list[str], known: dict) -> str:
        return ", ".join(f"{c} ({known[c].name})" for c in codes)

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
        """The field's code, from its code or any of its names (see the module docstring)."""
        return self._resolve(code, self.fields, self._field_names, _field_keys, "field", name,
                             "taxonomy.unknown_field")

    def check_region(self, code: str | None, name: str = "region") -> str | None:
        """The region's code, from its code or any of its names (see the module docstring)."""
        if code is None:
            return None
        return self._resolve(code, self.regions, self._region_names, _region_keys, "region", name,
                             "taxonomy.unknown_region")


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    return Taxonomy.load()
