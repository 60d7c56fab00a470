"""Enums carry the glossary's code names (DOMAIN.md); the Chinese labels are data in LABELS."""

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


class DownloadFormat(StrEnum):
    """File format of a publication download."""

    csv = "csv"
    xlsx = "xlsx"
    json = "json"


class ImportFormat(StrEnum):
    """File format of a bulk import."""

    jsonl = "jsonl"
    csv = "csv"


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
    "org_admin": "机构管理员", "org_member": "机构成员", "broker": "技术经纪人", "admin": "系统管理员",
    "read": "只读", "write": "读写",
    "achievements": "科技成果", "needs": "技术需求",
    "active": "有效", "retired": "已失效", "engine": "系统匹配", "manual": "人工添加",
    "csv": "CSV 表格", "xlsx": "Excel 表格", "json": "JSON 数据", "jsonl": "JSON Lines（每行一条）",
}
