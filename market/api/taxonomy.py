"""The field taxonomy and regions, read-only (the data lives in seed/taxonomy)."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.taxonomy import taxonomy

router = APIRouter(prefix="/v1/taxonomy", tags=["taxonomy"])


class FieldRead(BaseModel):
    code: str = Field(examples=["advanced_energy.hydrogen"])
    name: str = Field(examples=["氢能"])
    group: str = Field(description="pillar (产业建圈强链) or future (未来产业)")
    parent: str | None
    related: list[str] = Field(description="Neighbouring fields")
    children: list[str]


class RegionRead(BaseModel):
    code: str = Field(examples=["cd.wuhou"])
    name: str = Field(examples=["武侯区"])
    city: str
    scope: str = Field(description="cd (Chengdu), sc (rest of Sichuan) or cn (elsewhere)")


@router.get("/fields", response_model=list[FieldRead])
async def taxonomy_fields() -> list[FieldRead]:
    """Every field and sub-field, in taxonomy order."""
    return [FieldRead(code=f.code, name=f.name, group=f.group, parent=f.parent, related=list(f.related),
                      children=list(f.children)) for f in taxonomy().fields.values()]


@router.get("/regions", response_model=list[RegionRead])
async def taxonomy_regions() -> list[RegionRead]:
    """Regions: Chengdu's districts first."""
    return [RegionRead(code=r.code, name=r.name, city=r.city, scope=r.scope) for r in taxonomy().regions.values()]
