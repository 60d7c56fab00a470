"""Enums carry the glossary's code names (DOMAIN.md); the Chinese labels are data in LABELS."""

import unicodedata
from enum import StrEnum


class OrgKind(StrEnum):
    university = "university"
    institute = "institute"
    enterprise = "enterprise"
    agency = "agency"  # 技术转移机构
    operator = "operator"  # the platform (科创生态岛)


class Role(StrEnum):
    org_admin = "org_admin"
    org_member = "org_member"
    broker = "broker"
    operator = "operator"
    admin = "admin"


class CallerKind(StrEnum):
    """Who signed the request: a person, or an organisation's system through its API key."""

    user = "user"
    api_key = "api_key"


class KeyScope(StrEnum):
    read = "read"
    write = "write"


class ListingStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    published = "published"
    rejected = "rejected"
    closed = "closed"  # need fulfilled / achievement transferred
    archived = "archived"


class IPType(StrEnum):
    invention_patent = "invention_patent"
    utility_model = "utility_model"
    software_copyright = "software_copyright"
    ic_layout = "ic_layout"
    plant_variety = "plant_variety"
    know_how = "know_how"


class Stage(StrEnum):
    lab = "lab"
    bench = "bench"
    pilot = "pilot"
    production = "production"


class TransferMode(StrEnum):
    assignment = "assignment"
    licence = "licence"
    equity = "equity"
    co_development = "co_development"
    service = "service"


class ListKind(StrEnum):
    achievements = "achievements"
    needs = "needs"


class LeadStatus(StrEnum):
    active = "active"
    retired = "retired"


class LeadSource(StrEnum):
    engine = "engine"
    manual = "manual"


LABELS: dict[str, str] = {
    "university": "高校", "institute": "科研院所", "enterprise": "企业", "agency": "技术转移机构",
    "operator": "平台运营方", "user": "用户", "api_key": "API 密钥",
    "draft": "草稿", "submitted": "待审核", "published": "已发布", "rejected": "已驳回", "closed": "已完成",
    "archived": "已归档",
    "invention_patent": "发明专利", "utility_model": "实用新型", "software_copyright": "软件著作权",
    "ic_layout": "集成电路布图设计", "plant_variety": "植物新品种", "know_how": "技术秘密",
    "lab": "实验室", "bench": "小试", "pilot": "中试", "production": "产业化",
    "assignment": "转让", "licence": "许可", "equity": "作价入股", "co_development": "合作开发",
    "service": "技术服务",
}

# Other ways the same value is written on input: traditional script (Taiwan / Hong Kong forms) and the
# common short forms. Input accepts the code, its label (LABELS) or one of these; output is the code.
LABEL_ALIASES: dict[str, str] = {
    "實驗室": "lab", "小試": "bench", "中試": "pilot", "產業化": "production", "产业化阶段": "production",
    "中试阶段": "pilot", "小试阶段": "bench", "实验室阶段": "lab",
    "轉讓": "assignment", "技术转让": "assignment", "技術轉讓": "assignment",
    "許可": "licence", "技术许可": "licence", "技術許可": "licence", "license": "licence",
    "作價入股": "equity", "技术入股": "equity", "技術入股": "equity",
    "合作開發": "co_development", "技术开发": "co_development", "技術開發": "co_development",
    "技術服務": "service",
    "發明專利": "invention_patent", "发明": "invention_patent", "實用新型": "utility_model",
    "实用新型专利": "utility_model", "實用新型專利": "utility_model",
    "軟件著作權": "software_copyright", "軟體著作權": "software_copyright", "软著": "software_copyright",
    "计算机软件著作权": "software_copyright", "集成電路布圖設計": "ic_layout", "集成电路布图": "ic_layout",
    "積體電路布圖設計": "ic_layout", "植物新品種": "plant_variety", "技術秘密": "know_how", "技術祕密": "know_how",
}


def enum_input(enum: type[StrEnum]):
    """A `BeforeValidator` that lets input name an enum value by its code, its Chinese label in either
    script or a known alias (`中试`, `許可`, `发明专利`); anything else is left for the enum to refuse."""
    members = {m.value for m in enum}
    names = {label: code for code, label in LABELS.items() if code in members}
    names |= {alias: code for alias, code in LABEL_ALIASES.items() if code in members}

    def resolve(value):
        if not isinstance(value, str):
            return value
        key = "".join(unicodedata.normalize("NFKC", value).split())
        return key.lower() if key.lower() in members else names.get(key, value)

    return resolve
