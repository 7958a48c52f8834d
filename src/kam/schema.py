"""The canonical sources: their columns, value kinds, required columns and business keys.

Everything that knows what an export *means* (as opposed to how it is spelled in one ERP)
lives here: the loader, the generator and the presets all read these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

# Value kinds. The loader turns each kind into one DuckDB parse expression.
ID = "id"  # text key: trimmed, full-width folded, leading zeros kept
TEXT = "text"  # free text: trimmed
CODE = "code"  # short code compared case-insensitively: trimmed, folded, upper-cased
DATE = "date"
TIMESTAMP = "timestamp"
DECIMAL = "decimal"  # money, quantities, prices: DECIMAL(38,6)
INTEGER = "integer"
BOOLEAN = "boolean"
ENUM = "enum"  # a closed set of values with accepted synonyms; anything else is quarantined
LABEL = "label"  # an open set: known synonyms are mapped, other values kept lower-cased

DECIMAL_TYPE = "DECIMAL(38,6)"

SQL_TYPES = {
    ID: "VARCHAR",
    TEXT: "VARCHAR",
    CODE: "VARCHAR",
    ENUM: "VARCHAR",
    LABEL: "VARCHAR",
    DATE: "DATE",
    TIMESTAMP: "TIMESTAMP",
    DECIMAL: DECIMAL_TYPE,
    INTEGER: "BIGINT",
    BOOLEAN: "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    # ENUM / LABEL: accepted spelling (lower-cased) -> canonical value
    synonyms: tuple[tuple[str, str], ...] = ()
    # SQL over the other typed columns of the row, used when the value is missing.
    default_sql: str | None = None


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


ORDER_STATUS = (
    ("completed", "completed"),
    ("complete", "completed"),
    ("done", "completed"),
    ("shipped", "completed"),
    ("完成", "completed"),
    ("已完成", "completed"),
    ("已发货", "completed"),
    ("正常", "completed"),
    ("cancelled", "cancelled"),
    ("canceled", "cancelled"),
    ("void", "cancelled"),
    ("取消", "cancelled"),
    ("已取消", "cancelled"),
    ("作废", "cancelled"),
    ("returned", "returned"),
    ("return", "returned"),
    ("退货", "returned"),
    ("已退货", "returned"),
    ("退回", "returned"),
)

ACCOUNT_STATUS = (
    ("active", "active"),
    ("正常", "active"),
    ("活跃", "active"),
    ("有效", "active"),
    ("closed", "closed"),
    ("inactive", "closed"),
    ("关闭", "closed"),
    ("已关闭", "closed"),
    ("注销", "closed"),
    ("已注销", "closed"),
    ("blacklisted", "blacklisted"),
    ("blacklist", "blacklisted"),
    ("blocked", "blacklisted"),
    ("黑名单", "blacklisted"),
)

RELATIONSHIP_TYPE = (
    ("普通", "普通"),
    ("ordinary", "普通"),
    ("transactional", "普通"),
    ("伙伴式", "伙伴式"),
    ("伙伴", "伙伴式"),
    ("partner", "伙伴式"),
    ("partnership", "伙伴式"),
    ("战略性", "战略性"),
    ("战略", "战略性"),
    ("strategic", "战略性"),
)

ACTIVITY_TYPE = (
    ("visit", "visit"),
    ("拜访", "visit"),
    ("走访", "visit"),
    ("call", "call"),
    ("电话", "call"),
    ("meeting", "meeting"),
    ("会议", "meeting"),
    ("training", "training"),
    ("培训", "training"),
    ("complaint", "complaint"),
    ("投诉", "complaint"),
    ("survey", "survey"),
    ("调研", "survey"),
    ("满意度调查", "survey"),
)

INVOICE_STATUS = (
    ("open", "open"),
    ("未结清", "open"),
    ("未付", "open"),
    ("paid", "paid"),
    ("已结清", "paid"),
    ("已付", "paid"),
    ("partially paid", "partial"),
    ("partial", "partial"),
    ("部分付款", "partial"),
    ("void", "void"),
    ("作废", "void"),
)

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "orders",
            (
                Column("order_id", ID, True),
                # Unmapped or missing: the row's position within its order in the file.
                Column(
                    "line_no",
                    INTEGER,
                    default_sql="row_number() OVER (PARTITION BY order_id ORDER BY row_number)",
                ),
                Column("order_date", DATE, True),
                Column("customer_id", ID, True),
                Column("product_id", ID),
                Column("quantity", DECIMAL, True),
                Column("unit_price", DECIMAL, True),
                Column("amount", DECIMAL, default_sql="quantity * unit_price"),
                Column("cost_amount", DECIMAL),
                Column("currency", CODE),
                Column("status", ENUM, synonyms=ORDER_STATUS, default_sql="'completed'"),
                Column("sales_rep", TEXT),
                Column("channel", TEXT),
            ),
            key=("order_id", "line_no"),
        ),
        Source(
            "invoices",
            (
                Column("invoice_id", ID, True),
                Column("customer_id", ID, True),
                Column("order_id", ID),
                Column("invoice_date", DATE, True),
                Column("due_date", DATE, True),
                Column("amount", DECIMAL, True),
                Column("currency", CODE),
                Column("status", LABEL, synonyms=INVOICE_STATUS),
            ),
            key=("invoice_id",),
        ),
        Source(
            "payments",
            (
                Column("payment_id", ID, True),
                Column("customer_id", ID, True),
                Column("invoice_id", ID),
                Column("payment_date", DATE, True),
                Column("amount", DECIMAL, True),
                Column("currency", CODE),
                Column("method", TEXT),
            ),
            key=("payment_id",),
        ),
        Source(
            "crm_accounts",
            (
                Column("customer_id", ID, True),
                Column("customer_name", TEXT, True),
                Column("parent_customer_id", ID),
                Column("industry", TEXT),
                Column("region", TEXT),
                Column("city", TEXT),
                Column("account_owner", TEXT),
                Column("created_date", DATE),
                Column("relationship_type", LABEL, synonyms=RELATIONSHIP_TYPE),
                Column("credit_rating", CODE),
                Column("credit_limit", DECIMAL),
                Column("status", ENUM, synonyms=ACCOUNT_STATUS),
                Column("strategic_flag", BOOLEAN),
                Column("updated_at", TIMESTAMP),
            ),
            key=("customer_id",),
        ),
        Source(
            "crm_activities",
            (
                Column("activity_id", ID, True),
                Column("customer_id", ID, True),
                Column("activity_date", DATE, True),
                Column("activity_type", LABEL, synonyms=ACTIVITY_TYPE),
                Column("owner", TEXT),
                Column("satisfaction_score", DECIMAL),
            ),
            key=("activity_id",),
        ),
    )
}

BOOLEAN_TRUE = ("true", "t", "1", "yes", "y", "是")
BOOLEAN_FALSE = ("false", "f", "0", "no", "n", "否")
