"""Built-in column mappings for export families.

A preset maps canonical columns onto source headers. Unlike an explicit mapping in kam.yml,
a preset tolerates optional headers the file lacks: those columns are simply missing.
"""

from __future__ import annotations

from kam.schema import SOURCES

# Chinese ERP export headers, as written by `kam generate --headers zh`.
ZH_ERP: dict[str, dict[str, str]] = {
    "orders": {
        "order_id": "订单编号",
        "line_no": "行号",
        "order_date": "下单日期",
        "customer_id": "客户编码",
        "product_id": "产品编码",
        "quantity": "数量",
        "unit_price": "单价",
        "amount": "金额",
        "cost_amount": "成本金额",
        "currency": "币种",
        "status": "订单状态",
        "sales_rep": "销售员",
        "channel": "渠道",
    },
    "invoices": {
        "invoice_id": "发票号",
        "customer_id": "客户编码",
        "order_id": "订单编号",
        "invoice_date": "开票日期",
        "due_date": "到期日",
        "amount": "发票金额",
        "currency": "币种",
        "status": "发票状态",
    },
    "payments": {
        "payment_id": "回款单号",
        "customer_id": "客户编码",
        "invoice_id": "发票号",
        "payment_date": "回款日期",
        "amount": "回款金额",
        "currency": "币种",
        "method": "付款方式",
    },
    "crm_accounts": {
        "customer_id": "客户编码",
        "customer_name": "客户名称",
        "parent_customer_id": "上级客户编码",
        "industry": "行业",
        "region": "区域",
        "city": "城市",
        "account_owner": "客户经理",
        "created_date": "建档日期",
        "relationship_type": "关系类型",
        "credit_rating": "信用等级",
        "credit_limit": "信用额度",
        "status": "客户状态",
        "strategic_flag": "战略客户标志",
        "updated_at": "更新时间",
    },
    "crm_activities": {
        "activity_id": "活动编号",
        "customer_id": "客户编码",
        "activity_date": "活动日期",
        "activity_type": "活动类型",
        "owner": "负责人",
        "satisfaction_score": "满意度",
    },
}

# Headers equal to the canonical column names (English exports, `--headers en`).
CANONICAL: dict[str, dict[str, str]] = {
    name: {column: column for column in source.column_names} for name, source in SOURCES.items()
}

PRESETS: dict[str, dict[str, dict[str, str]]] = {"zh_erp": ZH_ERP, "canonical": CANONICAL}


def preset_headers(preset: str, source: str) -> dict[str, str]:
    """Canonical column -> source header for one source of a preset."""
    return dict(PRESETS[preset][source])
