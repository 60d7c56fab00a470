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


class DownloadFormat(StrEnum):
    """File format of a publication download or a statistic."""

    csv = "csv"
    xlsx = "xlsx"
    json = "json"


class FormFormat(StrEnum):
    """The registration form as data or as the spreadsheet an operator hands in."""

    json = "json"
    xlsx = "xlsx"


class Period(StrEnum):
    """A reporting or payment period."""

    month = "month"
    quarter = "quarter"
    year = "year"


class ReviewAction(StrEnum):
    approve = "approve"
    reject = "reject"


class RevisionStatus(StrEnum):
    submitted = "submitted"
    rejected = "rejected"


class RowAction(StrEnum):
    """What an import did with a row."""

    created = "created"
    updated = "updated"
    unchanged = "unchanged"


class LeadView(StrEnum):
    """Whose own top K a list of leads shows, in that side's rank order."""

    need = "need"
    achievement = "achievement"


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


class ContractType(StrEnum):
    """技术合同 types, with the registration categories 技术中介 and 技术培训."""

    development = "development"
    transfer = "transfer"
    licence = "licence"
    consulting = "consulting"
    service = "service"
    brokerage = "brokerage"
    training = "training"


class DealStatus(StrEnum):
    draft = "draft"
    signed = "signed"
    performing = "performing"
    completed = "completed"
    terminated = "terminated"


class CommissionStatus(StrEnum):
    agreed = "agreed"
    invoiced = "invoiced"
    paid = "paid"


class ObligationKind(StrEnum):
    upfront = "upfront"
    milestone = "milestone"
    recurring = "recurring"
    royalty = "royalty"


class ObligationStatus(StrEnum):
    pending = "pending"
    due = "due"
    overdue = "overdue"
    paid = "paid"
    waived = "waived"


class RegistrationState(StrEnum):
    unregistered = "unregistered"
    submitted = "submitted"
    registered = "registered"
    refused = "refused"


class SellerType(StrEnum):
    """The seller split of the registration statistics (企业 / 高校 / 科研院所 / 其他)."""

    enterprise = "enterprise"
    university = "university"
    institute = "institute"
    other = "other"


class LeadStage(StrEnum):
    """The pipeline a broker works a lead through; the allowed moves are services.pipeline.TRANSITIONS."""

    new = "new"
    contacted = "contacted"
    introduced = "introduced"
    negotiating = "negotiating"
    won = "won"
    lost = "lost"


class LostReason(StrEnum):
    too_early = "too_early"
    benefit_unclear = "benefit_unclear"
    price = "price"
    route_to_market_unclear = "route_to_market_unclear"
    description_unclear = "description_unclear"
    party_unresponsive = "party_unresponsive"
    other = "other"


class BrokerLevel(StrEnum):
    junior = "junior"
    intermediate = "intermediate"
    senior = "senior"


class BrokerStatus(StrEnum):
    active = "active"
    paused = "paused"


class ActivityKind(StrEnum):
    note = "note"
    call = "call"
    meeting = "meeting"
    site_visit = "site_visit"
    introduction = "introduction"


class ConsentMethod(StrEnum):
    platform = "platform"
    written = "written"
    phone = "phone"
    in_person = "in_person"


class LedgerEntryKind(StrEnum):
    consent = "consent"
    introduction = "introduction"
    correction = "correction"


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


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
    "development": "技术开发", "transfer": "技术转让", "consulting": "技术咨询", "brokerage": "技术中介",
    "training": "技术培训", "signed": "已签订", "performing": "履行中", "completed": "已履行完毕",
    "terminated": "已终止",
    "agreed": "已约定", "invoiced": "已开票", "paid": "已支付",
    "upfront": "首付款", "milestone": "里程碑付款", "recurring": "分期付款", "royalty": "提成",
    "due": "已到期", "overdue": "逾期", "waived": "已豁免",
    "unregistered": "未登记", "registered": "已登记", "refused": "不予登记",
    "new": "新线索", "contacted": "已联系", "introduced": "已引荐", "negotiating": "洽谈中", "won": "已成交",
    "lost": "已流失",
    "too_early": "时机尚早", "benefit_unclear": "效益不明确", "price": "价格不合适",
    "route_to_market_unclear": "产业化路径不明确",
    "description_unclear": "描述不清楚", "party_unresponsive": "对方无回应", "other": "其他",
    "junior": "初级", "intermediate": "中级", "senior": "高级", "paused": "暂停接单",
    "note": "备注", "call": "电话", "meeting": "会谈", "site_visit": "实地考察", "introduction": "引荐",
    "platform": "平台确认", "written": "书面同意", "phone": "电话同意", "in_person": "当面同意",
    "consent": "同意披露", "correction": "更正",
    "pending": "待处理", "delivered": "已投递", "failed": "投递失败",
    "year": "年度", "quarter": "季度", "month": "月度", "field": "技术领域", "contract_type": "合同类型",
    "seller_type": "卖方类型", "seller": "卖方机构", "buyer_region": "买方地区",
    "need": "需求方的排名", "achievement": "成果方的排名",
    "approve": "通过", "reject": "驳回", "created": "新建", "updated": "更新", "unchanged": "未变",
    "accepted": "全部导入", "partial": "部分导入", "queued": "排队中", "running": "进行中", "done": "已完成",
}
# Codes whose label differs by context: a contract type reads 技术许可 where a transfer mode reads 许可.
CONTRACT_TYPE_LABELS: dict[str, str] = {**{t: LABELS[t] for t in (
    "development", "transfer", "consulting", "service", "brokerage", "training")}, "licence": "技术许可"}
REGISTRATION_LABELS: dict[str, str] = {"unregistered": "未登记", "submitted": "已申请", "registered": "已登记",
                                       "refused": "不予登记"}

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
