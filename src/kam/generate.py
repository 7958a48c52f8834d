"""Synthetic ERP and CRM exports (`kam generate`).

The generator simulates a B2B company's customers over a run of calendar years — arrivals,
churn, growth and decline, customer groups, payer behaviour, CRM profile changes — and writes
what its ERP and CRM would export: order lines, invoices (应收), payments (回款), yearly CRM
account snapshots (客户档案) and CRM activities (拜访/服务记录). Headers are those of the
`zh_erp` preset or the canonical English names; files are CSV (four encodings), XLSX or Parquet.

numpy draws the data column by column, pyarrow and DuckDB render it: there is no Python loop
per row except inside xlsxwriter, whose API is row by row. The same seed and parameters give
the same data in every representation, and byte-identical files when re-run.

With `messy=True` the CSV files also carry the defects of real exports (full-width digits,
thousands separators, odd dates, summary rows, duplicates, a corrected re-export, ...), each
recorded in `<home>/generated/planted.json` with the clean value a loader must recover.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from statistics import NormalDist
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xlsxwriter

from kam.config import save_sources
from kam.errors import ConfigError
from kam.home import Home
from kam.presets import CANONICAL, ZH_ERP

# --- options -------------------------------------------------------------------------------

SOURCE_NAMES = ("orders", "invoices", "payments", "crm_accounts", "crm_activities")
HEADER_STYLES = ("zh", "en")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "utf-16")
ENCODING_ALIASES = {"utf8": "utf-8", "utf-8-bom": "utf-8-sig", "utf8-sig": "utf-8-sig"}
FORMATS = ("csv", "xlsx", "parquet")
FORMAT_ALIASES = {"xls": "xlsx", "excel": "xlsx", "pq": "parquet"}
DEFAULT_YEAR_COUNT = 5
MIN_YEAR, MAX_YEAR = 1901, 9998  # Excel serial dates start in 1900
PRESET_BY_HEADERS = {"zh": "zh_erp", "en": None}

# Columns crm_accounts carries that no mapping loads (personal contact data).
CONTACT_HEADERS = {
    "zh": {"contact_person": "联系人", "phone": "联系电话", "email": "电子邮箱"},
    "en": {"contact_person": "contact_person", "phone": "phone", "email": "email"},
}
GENERATED_FILE = re.compile(
    r"^(?P<source>[a-z_]+?)_\d{4}(_corrected)?\.(csv|xlsx|parquet)(\.tmp)?$"
)
PLANTED_FILE = "planted.json"
XLSX_MAX_ROWS = 1_048_575  # one sheet, below the header
TRANSCODE_CHUNK_CHARS = 1 << 20
XLSX_CREATED = datetime(2000, 1, 1)  # fixed document property: re-runs give identical bytes

# --- the simulated company -----------------------------------------------------------------

CUSTOMERS_PER_SCALE = 10_000
ORDER_LINES_PER_SCALE_YEAR = 200_000  # ~1M order lines over five years at scale 1
PRODUCTS_PER_SCALE = 20_000
MIN_PRODUCTS, MAX_PRODUCTS = 200, 99_999
ID_WIDTH = 7  # customer ids: '0000123'
ORDER_SEQ_WIDTH = 6
DOC_SEQ_WIDTH = 7
ID_POOL_FACTOR = 10  # customer numbers are drawn from 1..10n, so many carry leading zeros

MEDIAN_ANNUAL_VALUE = 300_000.0  # CNY
VALUE_SIGMA = 1.6  # lognormal spread of customer size: the top 20% carry ~75-80% of revenue
YEAR_NOISE_SIGMA = 0.06
MAX_TREND = 1.2  # a trend moves a customer at most a factor ~3.3 from its base size
NORMAL_GRID_POINTS = 4001
NORMAL_GRID_EDGE = 1e-4
GROWTH_KINDS = (0.88, 0.06, 0.06)  # steady, grower, decliner
GROWER_RATE = (0.22, 0.5)  # log growth per year: +25% .. +65%
DECLINER_RATE = (-0.5, -0.22)
STEADY_RATE_SIGMA = 0.05
EXISTING_SHARE = 0.65  # customers trading from the first year; the rest arrive later
HISTORY_YEARS = 12  # how far back existing customers were created
ARRIVAL_LATEST_DAY = 273  # newcomers are created Jan..Sep
CHURN_SHARE = 0.18
CHURN_DAY_RANGE = (59, 335)
MIN_TRADING_DAYS = 60
LINES_SIZE_EXPONENT = 0.75  # bigger customers order more lines, sub-linearly
LINE_AMOUNT_SIGMA = 0.3
MEAN_ORDER_LINES = 2.0
MAX_ORDER_LINES = 6
LIST_PRICE_MEDIAN = 150.0
LIST_PRICE_SIGMA = 1.3
MAX_DESIRED_QUANTITY = 500
PRODUCT_JITTER = 3
MAX_DISCOUNT = 0.15
MARGIN_RANGE = (0.05, 0.40)
NEGATIVE_MARGIN_SHARE = 0.03
NEGATIVE_MARGIN_RANGE = (-0.20, -0.03)
LINE_MARGIN_SIGMA = 0.02
CANCEL_RATE = 0.02
RETURN_PRONE_SHARE = 0.15
RETURN_PRONE_RATE = 0.08
RETURN_BASE_RATE = 0.009
RETURN_SHARE_RANGE = (0.2, 1.0)
CHANNEL_WEIGHTS = (0.6, 0.3, 0.1)
OWN_REP_SHARE = 0.85
CUSTOMERS_PER_OWNER = 60
MIN_OWNERS = 5

INVOICE_DELAY_DAYS = 5
# Customers trading before the first exported year owe its invoices of the last months before
# it: the first year's payments settle them (their invoices are not in the export, as with any
# export that starts at a date), so the first year's collection rate is not depressed.
OPENING_DAYS = 180
PAYMENT_TERMS = (30, 60, 90)
PAYMENT_TERM_WEIGHTS = (0.5, 0.3, 0.2)
PROMPT, LATE, PARTIAL, NON_PAYER = 0, 1, 2, 3
PAYER_WEIGHTS = (0.55, 0.30, 0.12, 0.03)
PAYER_SWITCH_SHARE = 0.05  # a prompt payer is sometimes late and vice versa
LATE_DAYS = (10, 60)
PARTIAL_SHARE = (0.3, 0.6)
PARTIAL_DAYS = (-15, 60)
UNLINKED_PAYMENT_SHARE = 0.10
METHOD_WEIGHTS = (0.7, 0.2, 0.1)

GROUPED_SHARE = 0.10  # customers with a parent
GROUP_SIZES = (2, 3, 4, 5)
GROUP_SIZE_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
TWO_LEVEL_SHARE = 0.3
MIN_CUSTOMERS_FOR_GROUPS = 10
LEGAL_FORM_WEIGHTS = (0.75, 0.25)  # 有限公司, 股份有限公司 (groups' tops get 集团有限公司)
GROUP_LEGAL_FORM = 2

PROFILE_CHANGE_SHARE = 0.08  # customers whose CRM profile changes in a year
PROFILE_FIELD_WEIGHTS = (0.35, 0.35, 0.2, 0.1)  # rating, limit, owner, relationship
CREDIT_RATING_WEIGHTS = (0.35, 0.40, 0.23, 0.02)
CREDIT_LIMIT_SHARE = (0.15, 0.5)
CREDIT_LIMIT_STEP = 10_000  # CNY
CREDIT_LIMIT_CHANGE = (0.7, 1.6)
BIG_RELATIONSHIP_WEIGHTS = (0.45, 0.4, 0.15)
RELATIONSHIP_WEIGHTS = (0.87, 0.12, 0.01)
BIG_SHARE = 0.2
TOP_SHARE = 0.1
CLOSED_SHARE = 0.03
BLACKLISTED_SHARE = 0.01
BIG_AMONG_CLOSED = 0.2
BIG_AMONG_BLACKLISTED = 0.4
STRATEGIC_SHARE = 0.01
TOP_FLAG_RANK = 0.05  # half the strategic flags go to the biggest 5% by value ...
MID_SIZE_RANK = 0.5  # ... and half to customers ranked between 20% and 50%
D_DOWNGRADE_SHARE = 0.005
WORK_SECONDS = (8 * 3600, 19 * 3600)

ACTIVITIES_PER_TRADING_YEAR = 6.0
ACTIVITY_SIZE_EXPONENT = 0.65  # the top 20% of customers get ~60% of activities
PROSPECT_ACTIVITIES = 0.5  # per year for a customer that exists but does not trade
ACTIVITY_WEIGHTS = (0.30, 0.33, 0.15, 0.07, 0.05, 0.10)
PRONE_ACTIVITY_WEIGHTS = (0.27, 0.30, 0.13, 0.05, 0.17, 0.08)
COMPLAINT = 4
CONTACT_GAP_SHARE = 0.2
CONTACT_GAP_DAYS = 100
SCORE_MISSING_SHARE = 0.3
SCORE_WEIGHTS = (0.02, 0.05, 0.2, 0.43, 0.3)
OTHER_OWNER_SHARE = 0.1

STREAMS = {
    "customers": 1,
    "products": 2,
    "orders": 3,
    "invoices": 4,
    "payments": 5,
    "crm": 6,
    "activities": 7,
    "messy": 8,
}

# --- value spellings: (zh, en) ---------------------------------------------------------------

ORDER_STATUS = (("已完成", "completed"), ("已取消", "cancelled"), ("退货", "returned"))
COMPLETED, CANCELLED, RETURNED = 0, 1, 2
ACCOUNT_STATUS = (("正常", "active"), ("已关闭", "closed"), ("黑名单", "blacklisted"))
ACTIVE, CLOSED, BLACKLISTED = 0, 1, 2
RELATIONSHIP = (("普通", "ordinary"), ("伙伴式", "partner"), ("战略性", "strategic"))
ACTIVITY_TYPES = (
    ("拜访", "visit"),
    ("电话", "call"),
    ("会议", "meeting"),
    ("培训", "training"),
    ("投诉", "complaint"),
    ("调研", "survey"),
)
FLAG = (("否", "false"), ("是", "true"))
INVOICE_STATUS = (("未结清", "open"), ("已结清", "paid"), ("部分付款", "partial"))
OPEN, PAID, PARTLY_PAID = 0, 1, 2
CHANNELS = (("直销", "direct"), ("经销", "distributor"), ("电商", "online"))
METHODS = (("银行转账", "bank_transfer"), ("承兑汇票", "acceptance_bill"), ("支票", "cheque"))
CREDIT_RATINGS = ("A", "B", "C", "D")
RATING_D = 3
CURRENCY = "CNY"

SURNAMES = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
    ("杨", "Yang"), ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"),
    ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"),
    ("郭", "Guo"), ("何", "He"), ("林", "Lin"), ("高", "Gao"), ("罗", "Luo"),
    ("郑", "Zheng"), ("梁", "Liang"), ("谢", "Xie"), ("宋", "Song"), ("唐", "Tang"),
    ("韩", "Han"), ("冯", "Feng"), ("邓", "Deng"), ("曹", "Cao"), ("彭", "Peng"),
)  # fmt: skip
GIVEN_NAMES = (
    ("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"),
    ("丽", "Li"), ("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"), ("洋", "Yang"),
    ("勇", "Yong"), ("艳", "Yan"), ("杰", "Jie"), ("娟", "Juan"), ("涛", "Tao"),
    ("明", "Ming"), ("超", "Chao"), ("秀英", "Xiuying"), ("霞", "Xia"), ("平", "Ping"),
    ("刚", "Gang"), ("桂英", "Guiying"), ("建华", "Jianhua"), ("晓东", "Xiaodong"),
    ("志强", "Zhiqiang"), ("海燕", "Haiyan"), ("文博", "Wenbo"), ("子涵", "Zihan"),
    ("浩然", "Haoran"), ("雨轩", "Yuxuan"),
)  # fmt: skip
REGIONS = (
    ("华东", "East China"), ("华北", "North China"), ("华南", "South China"),
    ("华中", "Central China"), ("西南", "Southwest China"), ("西北", "Northwest China"),
    ("东北", "Northeast China"),
)  # fmt: skip
CITIES = (  # zh, en, region, weight
    ("上海", "Shanghai", 0, 8), ("杭州", "Hangzhou", 0, 5), ("南京", "Nanjing", 0, 4),
    ("苏州", "Suzhou", 0, 4), ("宁波", "Ningbo", 0, 3), ("合肥", "Hefei", 0, 2),
    ("济南", "Jinan", 0, 2), ("青岛", "Qingdao", 0, 3), ("福州", "Fuzhou", 0, 2),
    ("厦门", "Xiamen", 0, 2), ("北京", "Beijing", 1, 8), ("天津", "Tianjin", 1, 4),
    ("石家庄", "Shijiazhuang", 1, 2), ("太原", "Taiyuan", 1, 1), ("呼和浩特", "Hohhot", 1, 1),
    ("广州", "Guangzhou", 2, 6), ("深圳", "Shenzhen", 2, 7), ("东莞", "Dongguan", 2, 3),
    ("佛山", "Foshan", 2, 3), ("南宁", "Nanning", 2, 1), ("海口", "Haikou", 2, 1),
    ("武汉", "Wuhan", 3, 4), ("长沙", "Changsha", 3, 3), ("郑州", "Zhengzhou", 3, 3),
    ("南昌", "Nanchang", 3, 2), ("成都", "Chengdu", 4, 5), ("重庆", "Chongqing", 4, 4),
    ("昆明", "Kunming", 4, 2), ("贵阳", "Guiyang", 4, 1), ("西安", "Xi'an", 5, 3),
    ("兰州", "Lanzhou", 5, 1), ("乌鲁木齐", "Urumqi", 5, 1), ("沈阳", "Shenyang", 6, 2),
    ("大连", "Dalian", 6, 2), ("长春", "Changchun", 6, 1), ("哈尔滨", "Harbin", 6, 2),
)  # fmt: skip
INDUSTRIES = (  # industry zh, en, name word zh, en
    ("制造业", "Manufacturing", "机械", "Machinery"),
    ("批发零售", "Wholesale and Retail", "商贸", "Trading"),
    ("建筑工程", "Construction", "建设", "Construction"),
    ("医药健康", "Healthcare", "医药", "Pharmaceutical"),
    ("电子信息", "Electronics", "电子", "Electronics"),
    ("汽车配件", "Automotive Parts", "汽配", "Auto Parts"),
    ("化工", "Chemicals", "化工", "Chemical"),
    ("食品饮料", "Food and Beverage", "食品", "Foods"),
    ("物流运输", "Logistics", "物流", "Logistics"),
    ("能源电力", "Energy", "能源", "Energy"),
    ("金融服务", "Financial Services", "投资", "Investment"),
    ("教育", "Education", "教育", "Education"),
)
BRANDS = (
    ("华信", "Huaxin"), ("宏达", "Hongda"), ("恒通", "Hengtong"), ("金鼎", "Jinding"),
    ("中科", "Zhongke"), ("远航", "Yuanhang"), ("鑫源", "Xinyuan"), ("天成", "Tiancheng"),
    ("博瑞", "Borui"), ("新华", "Xinhua"), ("永安", "Yongan"), ("东方", "Dongfang"),
    ("汇通", "Huitong"), ("鼎盛", "Dingsheng"), ("瑞丰", "Ruifeng"), ("国泰", "Guotai"),
    ("长江", "Changjiang"), ("泰和", "Taihe"), ("嘉禾", "Jiahe"), ("明珠", "Mingzhu"),
    ("海纳", "Haina"), ("盛世", "Shengshi"), ("锦程", "Jincheng"), ("星辰", "Xingchen"),
    ("安信", "Anxin"), ("德润", "Derun"), ("富源", "Fuyuan"), ("正大", "Zhengda"),
    ("凯达", "Kaida"), ("华美", "Huamei"), ("振华", "Zhenhua"), ("益民", "Yimin"),
    ("银河", "Yinhe"), ("通达", "Tongda"), ("九州", "Jiuzhou"), ("创新", "Chuangxin"),
    ("万通", "Wantong"), ("立信", "Lixin"), ("同创", "Tongchuang"), ("光明", "Guangming"),
)  # fmt: skip
LEGAL_FORMS = (
    ("有限公司", "Co., Ltd."),
    ("股份有限公司", "Corporation"),
    ("集团有限公司", "Group Co., Ltd."),
)
MOBILE_PREFIXES = (130, 131, 132, 135, 136, 137, 138, 139, 150, 151, 158, 159, 186, 187, 188, 189)


# --- public API ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote."""

    files: dict[str, list[Path]]  # source -> files written
    rows: dict[str, int]  # source -> data rows written (all files, incl. planted bad rows)
    customers: int
    years: tuple[int, ...]
    seconds: float


def default_years(today: date | None = None) -> tuple[int, ...]:
    """The last five full calendar years before `today` (2026-11-29 -> 2021..2025)."""
    this_year = (today or date.today()).year
    return tuple(range(this_year - DEFAULT_YEAR_COUNT, this_year))


def generate(
    home: Home,
    *,
    scale: float = 0.01,
    years: Sequence[int] | None = None,
    seed: int = 42,
    headers: str = "zh",
    encoding: str = "utf-8",
    fmt: str = "csv",
    messy: bool = False,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write synthetic exports of all five sources into <home>/inbox and map them in kam.yml.

    `scale` 1 is 10,000 customers and ~1M order lines over five years. Bad arguments raise
    ConfigError. With `messy` (CSV only) real-export defects are planted and recorded in
    <home>/generated/planted.json.
    """
    started = time.perf_counter()
    options = _Options.checked(scale, years, seed, headers, encoding, fmt, messy)
    say = progress or (lambda _message: None)
    calendar = _Calendar(options.years)
    n_customers = options.n_customers
    say(f"simulating {n_customers:,} customers over {calendar.years[0]}-{calendar.years[-1]}")
    world = _simulate(n_customers, calendar, options.scale, options.seed)

    writer = _Writer(home, options)
    planter = _Planter(options) if messy else None
    files: dict[str, list[Path]] = {}
    rows: dict[str, int] = {}
    for source in SOURCE_NAMES:
        writer.clear(source)
        files[source], rows[source] = [], 0
        for year, table in _exports(world, source, options.headers):
            for path, count in writer.write(source, year, table, planter):
                files[source].append(path)
                rows[source] += count
        say(f"{source}: {rows[source]:,} rows in {len(files[source])} files")

    save_sources(home, _source_config(options))
    _write_planted(home, planter)
    return GenerateSummary(
        files=files,
        rows=rows,
        customers=n_customers,
        years=calendar.years,
        seconds=time.perf_counter() - started,
    )


# --- options -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    scale: float
    years: tuple[int, ...]
    seed: int
    headers: str
    encoding: str
    fmt: str
    messy: bool

    @property
    def n_customers(self) -> int:
        return round(CUSTOMERS_PER_SCALE * self.scale)

    @classmethod
    def checked(
        cls,
        scale: float,
        years: Sequence[int] | None,
        seed: int,
        headers: str,
        encoding: str,
        fmt: str,
        messy: bool,
    ) -> _Options:
        """Validate the arguments of `generate`; ConfigError with one line when one is bad."""
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            raise ConfigError(f"scale must be a number > 0, got {scale!r}")
        if not math.isfinite(scale) or round(CUSTOMERS_PER_SCALE * scale) < 1:
            raise ConfigError(f"scale {scale!r} gives no customers (the smallest is 0.0001)")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        style = str(headers).lower()
        if style not in HEADER_STYLES:
            raise ConfigError(f"headers must be zh or en, got {headers!r}")
        codec = str(encoding).lower().replace("_", "-")
        codec = ENCODING_ALIASES.get(codec, codec)
        if codec not in ENCODINGS:
            raise ConfigError(f"unknown encoding {encoding!r} (expected {', '.join(ENCODINGS)})")
        file_format = str(fmt).lower()
        file_format = FORMAT_ALIASES.get(file_format, file_format)
        if file_format not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r} (expected {', '.join(FORMATS)})")
        if messy and file_format != "csv":
            raise ConfigError(f"messy is CSV-only: planted defects cannot be written as {fmt}")
        return cls(float(scale), _checked_years(years), seed, style, codec, file_format, messy)


def _checked_years(years: Sequence[int] | None) -> tuple[int, ...]:
    """Sorted consecutive calendar years (default: the last five full years)."""
    if years is None:
        return default_years()
    if isinstance(years, str | bytes) or not isinstance(years, Sequence | set | frozenset):
        raise ConfigError(f"years must be a list of years, got {years!r}")
    chosen = sorted(set(years))
    if not chosen:
        raise ConfigError("years must name at least one year")
    for year in chosen:
        if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
            raise ConfigError(f"years must be integers {MIN_YEAR}..{MAX_YEAR}, got {year!r}")
    if chosen[-1] - chosen[0] + 1 != len(chosen):
        raise ConfigError(f"years must be consecutive, got {', '.join(map(str, chosen))}")
    return tuple(chosen)


def _source_config(options: _Options) -> dict[str, Any]:
    """The `sources` section of kam.yml for what was written."""
    preset = PRESET_BY_HEADERS[options.headers]
    sources: dict[str, Any] = {}
    for source in SOURCE_NAMES:
        entry: dict[str, Any] = {"path": f"inbox/{source}/*.{options.fmt}"}
        if preset:
            entry["preset"] = preset
        sources[source] = entry
    return sources


# --- dates, money and text helpers -----------------------------------------------------------

EPOCH = date(1970, 1, 1)
EXCEL_EPOCH = date(1899, 12, 30)
SECONDS_PER_DAY = 86_400


def _day(year: int, month: int = 1, day: int = 1) -> int:
    """Days since 1970-01-01."""
    return (date(year, month, day) - EPOCH).days


def _year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers."""
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per part of the model, so parts do not shift each other."""
    return np.random.default_rng([seed, STREAMS[stream]])


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    array = pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"))
    return array.cast(pa.timestamp("us"))


def _money(cents: np.ndarray) -> pa.Array:
    """Exact DECIMAL(18,2) from integer cents (decimal128 is the little-endian 128-bit value)."""
    low = np.ascontiguousarray(cents, dtype=np.int64)
    high = np.where(low < 0, -1, 0).astype(np.int64)
    buffer = np.column_stack([low, high]).ravel()
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(low), [None, pa.py_buffer(buffer)])


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Text ids like SO2024000017: prefix + zero-padded number."""
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _document_ids(prefix: str, calendar: _Calendar, year_index: np.ndarray, width: int) -> pa.Array:
    """Ids numbered per year, like SO2024000017, for rows sorted by year (wider when needed)."""
    sequence = _within_year_sequence(year_index)
    year_label = calendar.years[0] + np.asarray(year_index, dtype=np.int64)
    digits = pc.utf8_lpad(pa.array(sequence).cast(pa.string()), _width(sequence, width), "0")
    return pc.binary_join_element_wise(prefix, pa.array(year_label).cast(pa.string()), digits, "")


def _width(numbers: np.ndarray, minimum: int) -> int:
    return max(minimum, len(str(int(numbers.max())))) if len(numbers) else minimum


def _round_cents(values: np.ndarray) -> np.ndarray:
    return np.rint(values).astype(np.int64)


def _within_year_sequence(year_index: np.ndarray) -> np.ndarray:
    """1, 2, ... within each run of equal year indexes (rows sorted by year)."""
    starts = np.searchsorted(year_index, year_index, side="left")
    return np.arange(len(year_index)) - starts + 1


@dataclass(frozen=True)
class _Text:
    """A text column spelled two ways: Chinese (zh) and English/pinyin (en)."""

    zh: pa.Array
    en: pa.Array

    def spelled(self, headers: str) -> pa.Array:
        return self.zh if headers == "zh" else self.en


def _vocabulary(pairs: Sequence[Sequence[str]], codes: np.ndarray) -> _Text:
    """The (zh, en) spelling of integer codes into a list of pairs."""
    index = pa.array(np.asarray(codes, dtype=np.int64))
    zh = pa.array([pair[0] for pair in pairs]).take(index)
    en = pa.array([pair[1] for pair in pairs]).take(index)
    return _Text(zh, en)


def _joined(parts: Sequence[_Text], zh_separator: str, en_separator: str) -> _Text:
    """Concatenate text columns element-wise, with a separator per language."""
    zh = pc.binary_join_element_wise(*[p.zh for p in parts], zh_separator)
    en = pc.binary_join_element_wise(*[p.en for p in parts], en_separator)
    return _Text(zh, en)


def _person_names(codes: np.ndarray) -> _Text:
    """Person names: code = surname * len(GIVEN_NAMES) + given name."""
    surname = _vocabulary(SURNAMES, codes // len(GIVEN_NAMES))
    given = _vocabulary(GIVEN_NAMES, codes % len(GIVEN_NAMES))
    return _Text(
        pc.binary_join_element_wise(surname.zh, given.zh, ""),
        pc.binary_join_element_wise(given.en, surname.en, " "),
    )


# --- the calendar --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    years: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.years)

    @property
    def starts(self) -> np.ndarray:
        return np.array([_day(y) for y in self.years], dtype=np.int64)

    @property
    def ends(self) -> np.ndarray:
        return np.array([_day(y, 12, 31) for y in self.years], dtype=np.int64)

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts + 1

    @property
    def period_end(self) -> int:
        return _day(self.years[-1], 12, 31)

    def index_of(self, days: np.ndarray) -> np.ndarray:
        """Year index of day numbers inside the calendar."""
        return _year_of(days) - self.years[0]


# --- simulation: customers -------------------------------------------------------------------


@dataclass(frozen=True)
class _Customers:
    number: np.ndarray  # numeric part of the id, ascending
    ids: pa.Array  # zero-padded text ids
    created: np.ndarray  # day of creation in the CRM
    arrival: np.ndarray  # index of the first trading year
    last: np.ndarray  # index of the last trading year
    end: np.ndarray  # last day on which the customer orders
    value: np.ndarray  # (customers, years) expected revenue; 0 when not trading
    margin: np.ndarray
    discount: np.ndarray
    return_rate: np.ndarray
    payer: np.ndarray
    terms: np.ndarray
    channel: np.ndarray
    owner: np.ndarray  # index into the owner pool
    owners: np.ndarray  # owner pool: person-name codes
    parent: np.ndarray  # index of the parent customer, -1 for none
    city: np.ndarray
    industry: np.ndarray
    brand: np.ndarray
    legal_form: np.ndarray
    contact: np.ndarray  # person-name code
    phone: np.ndarray

    @property
    def count(self) -> int:
        return len(self.number)

    def window(self, calendar: _Calendar) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) possible order day per customer and year (customers x years)."""
        first = np.maximum(calendar.starts[None, :], self.created[:, None])
        last = np.minimum(calendar.ends[None, :], self.end[:, None])
        return first, last


def _simulate_customers(n: int, calendar: _Calendar, seed: int) -> _Customers:
    """Customers with a lifecycle (arrival, churn, trend), terms, payer behaviour and profile."""
    rng = _rng(seed, "customers")
    pool = ID_POOL_FACTOR * n
    number = np.sort(rng.choice(pool, size=n, replace=False)) + 1
    ids = _numbered("", number, _width(np.array([pool]), ID_WIDTH))
    arrival, created = _arrivals(rng, n, calendar)
    last, end = _churn(rng, calendar, arrival, created)
    value = _annual_values(rng, calendar, arrival, last, created, end)
    n_names = len(SURNAMES) * len(GIVEN_NAMES)
    n_owners = int(np.clip(round(n / CUSTOMERS_PER_OWNER), MIN_OWNERS, n_names))
    negative = rng.random(n) < NEGATIVE_MARGIN_SHARE
    margin = np.where(
        negative, rng.uniform(*NEGATIVE_MARGIN_RANGE, n), rng.uniform(*MARGIN_RANGE, n)
    )
    prone = rng.random(n) < RETURN_PRONE_SHARE
    city_weights = np.array([c[3] for c in CITIES], dtype=float)
    brand = rng.integers(0, len(BRANDS), n)
    legal_form = rng.choice(len(LEGAL_FORM_WEIGHTS), size=n, p=LEGAL_FORM_WEIGHTS)
    parent = _groups(rng, number, created, brand, legal_form)
    return _Customers(
        number=number,
        ids=ids,
        created=created,
        arrival=arrival,
        last=last,
        end=end,
        value=value,
        margin=margin,
        discount=rng.uniform(0, MAX_DISCOUNT, n),
        return_rate=np.where(prone, RETURN_PRONE_RATE, RETURN_BASE_RATE),
        payer=rng.choice(len(PAYER_WEIGHTS), size=n, p=PAYER_WEIGHTS),
        terms=rng.choice(PAYMENT_TERMS, size=n, p=PAYMENT_TERM_WEIGHTS),
        channel=rng.choice(len(CHANNELS), size=n, p=CHANNEL_WEIGHTS),
        owner=rng.integers(0, n_owners, n),
        owners=rng.choice(n_names, size=n_owners, replace=False),
        parent=parent,
        city=rng.choice(len(CITIES), size=n, p=city_weights / city_weights.sum()),
        industry=rng.integers(0, len(INDUSTRIES), n),
        brand=brand,
        legal_form=legal_form,
        contact=rng.integers(0, n_names, n),
        phone=rng.choice(MOBILE_PREFIXES, size=n) * 10**8 + rng.integers(0, 10**8, n),
    )


def _arrivals(
    rng: np.random.Generator, n: int, calendar: _Calendar
) -> tuple[np.ndarray, np.ndarray]:
    """First trading year and CRM creation day: most exist already, the rest arrive later."""
    arrival = np.zeros(n, dtype=np.int64)
    if calendar.count > 1:
        newcomer = rng.random(n) >= EXISTING_SHARE
        arrival[newcomer] = rng.integers(1, calendar.count, newcomer.sum())
    history_start = _day(calendar.years[0] - HISTORY_YEARS)
    existing_created = rng.integers(history_start, calendar.starts[0], n)
    newcomer_created = calendar.starts[arrival] + rng.integers(0, ARRIVAL_LATEST_DAY, n)
    created = np.where(arrival == 0, existing_created, newcomer_created)
    return arrival, created


def _churn(
    rng: np.random.Generator, calendar: _Calendar, arrival: np.ndarray, created: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Last trading year and day: churners stop ordering before the last year."""
    n = len(arrival)
    last = np.full(n, calendar.count - 1, dtype=np.int64)
    churner = (arrival <= calendar.count - 2) & (rng.random(n) < CHURN_SHARE)
    churn_year = rng.integers(arrival, np.maximum(arrival + 1, calendar.count - 1))
    last = np.where(churner, churn_year, last)
    churn_day = calendar.starts[last] + rng.integers(*CHURN_DAY_RANGE, n)
    churn_day = np.minimum(np.maximum(churn_day, created + MIN_TRADING_DAYS), calendar.ends[last])
    end = np.where(churner, churn_day, calendar.period_end)
    return last, end


def _annual_values(
    rng: np.random.Generator,
    calendar: _Calendar,
    arrival: np.ndarray,
    last: np.ndarray,
    created: np.ndarray,
    end: np.ndarray,
) -> np.ndarray:
    """Expected revenue per customer and year: lognormal size x trend x noise x time trading."""
    n = len(arrival)
    base = MEDIAN_ANNUAL_VALUE * np.exp(VALUE_SIGMA * _stratified_normal(rng, n))
    kind = rng.choice(len(GROWTH_KINDS), size=n, p=GROWTH_KINDS)
    growth = np.select(
        [kind == 1, kind == 2],
        [rng.uniform(*GROWER_RATE, n), rng.uniform(*DECLINER_RATE, n)],
        STEADY_RATE_SIGMA * rng.standard_normal(n),
    )
    year = np.arange(calendar.count)[None, :]
    age = year - arrival[:, None]
    noise = YEAR_NOISE_SIGMA * rng.standard_normal((n, calendar.count))
    trading = (age >= 0) & (year <= last[:, None])
    first = np.maximum(calendar.starts[None, :], created[:, None])
    final = np.minimum(calendar.ends[None, :], end[:, None])
    share_of_year = np.clip((final - first + 1) / calendar.lengths[None, :], 0, 1)
    # Trends are centred on the customer's trading span, so growth and decline do not widen
    # the spread of customer sizes (and the Pareto share) from year to year.
    centre = (arrival + last)[:, None] / 2
    trend = np.clip(growth[:, None] * (year - centre), -MAX_TREND, MAX_TREND)
    value = base[:, None] * np.exp(trend + noise) * share_of_year
    return np.where(trading & (share_of_year > 0), value, 0.0)


def _stratified_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal scores, one per 1/n quantile stratum in random order.

    Stratifying keeps the shape of the size distribution (and so the Pareto share) the same
    from seed to seed, while the order of customers stays random.
    """
    probability = (rng.permutation(n) + rng.random(n)) / n
    grid = np.linspace(NORMAL_GRID_EDGE, 1 - NORMAL_GRID_EDGE, NORMAL_GRID_POINTS)
    scores = np.array([NormalDist().inv_cdf(p) for p in grid])
    return np.interp(probability, grid, scores)


def _groups(
    rng: np.random.Generator,
    number: np.ndarray,
    created: np.ndarray,
    brand: np.ndarray,
    legal_form: np.ndarray,
) -> np.ndarray:
    """Customer groups of 2-5: the earliest-created member is the top parent (no cycles).

    Members share the top's brand (华信 Shanghai, 华信 Suzhou, ...); `brand` and `legal_form`
    are updated in place.
    """
    n = len(number)
    parent = np.full(n, -1, dtype=np.int64)
    mean_children = float(np.dot(GROUP_SIZES, GROUP_SIZE_WEIGHTS)) - 1
    n_groups = round(n * GROUPED_SHARE / mean_children) if n >= MIN_CUSTOMERS_FOR_GROUPS else 0
    if n_groups == 0:
        return parent
    sizes = rng.choice(GROUP_SIZES, size=n_groups, p=GROUP_SIZE_WEIGHTS)
    members = rng.permutation(n)[: sizes.sum()]
    group = np.repeat(np.arange(n_groups), sizes)
    order = np.lexsort((number[members], created[members], group))
    members = members[order]
    group_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(len(members)) - group_start[group]
    top = members[group_start][group]
    second = members[group_start + 1][group]
    two_level = (position >= 2) & (rng.random(len(members)) < TWO_LEVEL_SHARE)
    child = position > 0
    parent[members[child]] = np.where(two_level, second, top)[child]
    brand[members] = brand[top]
    legal_form[members[position == 0]] = GROUP_LEGAL_FORM
    return parent


# --- simulation: order lines -----------------------------------------------------------------


@dataclass(frozen=True)
class _Products:
    ids: pa.Array  # sorted by list price
    price_cents: np.ndarray  # ascending


@dataclass(frozen=True)
class _Orders:
    """Order lines sorted by year, order number and line number."""

    year: np.ndarray  # year index
    order: np.ndarray  # order index (0..orders-1), ascending
    line_no: np.ndarray
    customer: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray  # cents
    amount: np.ndarray  # cents
    cost: np.ndarray  # cents
    status: np.ndarray
    order_ids: pa.Array  # per order
    heads: _OrderHeads  # per order


def _simulate_products(scale: float, seed: int) -> _Products:
    """A product catalogue with lognormal list prices."""
    rng = _rng(seed, "products")
    count = int(np.clip(round(PRODUCTS_PER_SCALE * scale), MIN_PRODUCTS, MAX_PRODUCTS))
    numbers = rng.choice(MAX_PRODUCTS, size=count, replace=False) + 1
    price = LIST_PRICE_MEDIAN * np.exp(LIST_PRICE_SIGMA * rng.standard_normal(count))
    cents = np.maximum(100, _round_cents(price * 100))
    order = np.argsort(cents, kind="stable")
    return _Products(ids=_numbered("P", numbers[order], 5), price_cents=cents[order])


def _lines_per_customer_year(
    rng: np.random.Generator, value: np.ndarray, calendar: _Calendar, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, year, line count) for every trading customer-year; bigger ones order more."""
    customer, year = np.nonzero(value > 0)
    weight = value[customer, year] ** LINES_SIZE_EXPONENT
    target = ORDER_LINES_PER_SCALE_YEAR * scale * calendar.count
    expected = target * weight / weight.sum() if len(weight) else weight
    lines = np.maximum(1, rng.poisson(expected))
    return customer, year, lines


def _order_structure(rng: np.random.Generator, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each customer-year's lines into orders of 1..6 lines: (order index, line_no)."""
    total = int(lines.sum())
    starts = rng.random(total) < 1 / MEAN_ORDER_LINES
    starts[np.concatenate([[0], np.cumsum(lines)[:-1]])] = True
    run = np.cumsum(starts) - 1
    run_start = np.flatnonzero(starts)
    position = np.arange(total) - run_start[run]
    line_no = position % MAX_ORDER_LINES + 1
    order = np.cumsum(line_no == 1) - 1
    return order, line_no


@dataclass(frozen=True)
class _OrderHeads:
    """Per order: customer, year index, date, sales rep (owner-pool index) and channel."""

    customer: np.ndarray
    year: np.ndarray
    day: np.ndarray
    rep: np.ndarray
    channel: np.ndarray

    def take(self, rows: np.ndarray) -> _OrderHeads:
        return _OrderHeads(*(values[rows] for values in self.__dict__.values()))


def _simulate_orders(
    customers: _Customers, products: _Products, calendar: _Calendar, scale: float, seed: int
) -> _Orders:
    """Order lines: amount = quantity x unit price exactly, per-customer margins, returns."""
    rng = _rng(seed, "orders")
    cy_customer, cy_year, lines = _lines_per_customer_year(rng, customers.value, calendar, scale)
    line_cy = np.repeat(np.arange(len(lines)), lines)
    order, line_no = _order_structure(rng, lines)
    order_cy = line_cy[line_no == 1]
    heads = _order_heads(rng, customers, calendar, cy_customer[order_cy], cy_year[order_cy])

    customer = cy_customer[line_cy]
    per_line = (customers.value[cy_customer, cy_year] / lines)[line_cy]
    product, unit_price, quantity = _priced_lines(rng, customers, products, customer, per_line)
    status = _line_status(rng, customers.return_rate[customer])
    returned = status == RETURNED
    returned_share = rng.uniform(*RETURN_SHARE_RANGE, len(order))
    quantity = np.where(returned, -np.maximum(1, _round_cents(quantity * returned_share)), quantity)
    amount = quantity * unit_price
    cost = _line_cost(rng, customers.margin[customer], amount)

    # Number the orders per year by (date, customer) and sort the lines accordingly.
    rank = np.lexsort(
        (np.arange(len(heads.day)), customers.number[heads.customer], heads.day, heads.year)
    )
    new_index = np.empty_like(rank)
    new_index[rank] = np.arange(len(rank))
    heads = heads.take(rank)
    line_order = np.lexsort((line_no, new_index[order]))
    return _Orders(
        year=heads.year[new_index[order]][line_order],
        order=new_index[order][line_order],
        line_no=line_no[line_order],
        customer=customer[line_order],
        product=product[line_order],
        quantity=quantity[line_order],
        unit_price=unit_price[line_order],
        amount=amount[line_order],
        cost=cost[line_order],
        status=status[line_order],
        order_ids=_document_ids("SO", calendar, heads.year, ORDER_SEQ_WIDTH),
        heads=heads,
    )


def _order_heads(
    rng: np.random.Generator,
    customers: _Customers,
    calendar: _Calendar,
    customer: np.ndarray,
    year: np.ndarray,
) -> _OrderHeads:
    """A day in the customer's trading window of the year, a sales rep and a channel."""
    count = len(customer)
    first_day, last_day = customers.window(calendar)
    window_start = first_day[customer, year]
    day = window_start + rng.integers(0, last_day[customer, year] - window_start + 1)
    rep = np.where(
        rng.random(count) < OWN_REP_SHARE,
        customers.owner[customer],
        rng.integers(0, len(customers.owners), count),
    )
    channel = np.where(
        rng.random(count) < OWN_REP_SHARE,
        customers.channel[customer],
        rng.choice(len(CHANNELS), size=count, p=CHANNEL_WEIGHTS),
    )
    return _OrderHeads(customer, year, day, rep, channel)


def _priced_lines(
    rng: np.random.Generator,
    customers: _Customers,
    products: _Products,
    customer: np.ndarray,
    per_line: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(product, unit price in cents, quantity): a product priced near target / some quantity."""
    count = len(customer)
    noise = np.exp(LINE_AMOUNT_SIGMA * rng.standard_normal(count) - LINE_AMOUNT_SIGMA**2 / 2)
    target_cents = per_line * noise * 100
    desired_quantity = np.exp(rng.uniform(0, np.log(MAX_DESIRED_QUANTITY), count))
    product = np.searchsorted(products.price_cents, target_cents / desired_quantity)
    product = product + rng.integers(-PRODUCT_JITTER, PRODUCT_JITTER + 1, count)
    product = np.clip(product, 0, len(products.price_cents) - 1)
    discount = 1 - customers.discount[customer]
    unit_price = np.maximum(1, _round_cents(products.price_cents[product] * discount))
    quantity = np.maximum(1, _round_cents(target_cents / unit_price))
    return product, unit_price, quantity


def _line_cost(rng: np.random.Generator, margin: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """cost = amount x (1 - margin), the customer's margin give or take; negative stays negative."""
    line_margin = margin + LINE_MARGIN_SIGMA * rng.standard_normal(len(margin))
    line_margin = np.where(
        margin < 0, np.minimum(line_margin, -0.01), np.clip(line_margin, 0.01, 0.6)
    )
    return _round_cents(amount * (1 - line_margin))


def _line_status(rng: np.random.Generator, return_rate: np.ndarray) -> np.ndarray:
    """~2% cancelled, ~2% returned (more for return-prone customers), the rest completed."""
    draw = rng.random(len(return_rate))
    status = np.full(len(return_rate), COMPLETED, dtype=np.int64)
    status[draw < CANCEL_RATE + return_rate] = RETURNED
    status[draw < CANCEL_RATE] = CANCELLED
    return status


# --- simulation: invoices and payments -------------------------------------------------------


@dataclass(frozen=True)
class _Invoices:
    """Invoices sorted by invoice date (and order): the calendar's, preceded by the opening
    invoices of the months before it (not exported; only their payments are)."""

    ids: pa.Array
    order: np.ndarray  # order index, -1 for an opening invoice
    customer: np.ndarray
    invoice_date: np.ndarray
    due_date: np.ndarray
    amount: np.ndarray  # cents


@dataclass(frozen=True)
class _Payments:
    """Payments sorted by payment date, all dated inside the calendar (opening invoices'
    payments too)."""

    ids: pa.Array
    customer: np.ndarray
    invoice: np.ndarray  # invoice index, -1 when the export leaves invoice_id empty
    payment_date: np.ndarray
    amount: np.ndarray  # cents
    method: np.ndarray


def _simulate_invoices(
    orders: _Orders, customers: _Customers, calendar: _Calendar, seed: int
) -> _Invoices:
    """One invoice per order with completed lines, for Σ of those lines, dated in the calendar;
    before them, the opening invoices of customers that traded before the first year."""
    rng = _rng(seed, "invoices")
    completed = orders.status == COMPLETED
    n_orders = len(orders.heads.day)
    total = np.bincount(
        orders.order, weights=np.where(completed, orders.amount, 0), minlength=n_orders
    )
    has_completed = np.bincount(orders.order, weights=completed, minlength=n_orders) > 0
    invoice_date = orders.heads.day + rng.integers(0, INVOICE_DELAY_DAYS + 1, n_orders)
    keep = has_completed & (invoice_date <= calendar.period_end)
    order = np.flatnonzero(keep)
    opening_order, opening_date = _opening_invoices(rng, orders, customers, calendar, order)
    customer = np.concatenate([orders.heads.customer[order], orders.heads.customer[opening_order]])
    dates = np.concatenate([invoice_date[order], opening_date])
    amounts = np.concatenate([total[order], total[opening_order]])
    order = np.concatenate([order, np.full(len(opening_order), -1)])
    sort = np.lexsort((order, dates))
    year = calendar.index_of(dates[sort])
    return _Invoices(
        ids=_document_ids("INV", calendar, year, DOC_SEQ_WIDTH),
        order=order[sort],
        customer=customer[sort],
        invoice_date=dates[sort],
        due_date=dates[sort] + customers.terms[customer[sort]],
        amount=np.rint(amounts[sort]).astype(np.int64),
    )


def _opening_invoices(
    rng: np.random.Generator,
    orders: _Orders,
    customers: _Customers,
    calendar: _Calendar,
    invoiced_orders: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(order it copies the amount of, date) of each opening invoice: the first-year invoices
    of a customer created before the first year, as if repeated in the OPENING_DAYS before it."""
    first_day = calendar.starts[0]
    first_year = invoiced_orders[orders.heads.year[invoiced_orders] == 0]
    existing = customers.created[orders.heads.customer[first_year]] < first_day
    copied = first_year[existing & (rng.random(len(first_year)) < OPENING_DAYS / 365)]
    return copied, first_day - rng.integers(1, OPENING_DAYS + 1, len(copied))


def _simulate_payments(
    invoices: _Invoices, customers: _Customers, calendar: _Calendar, seed: int
) -> tuple[_Payments, np.ndarray]:
    """At most one payment per invoice, by the customer's payer behaviour; (payments, status)."""
    rng = _rng(seed, "payments")
    n = len(invoices.amount)
    behaviour = customers.payer[invoices.customer]
    switch = (behaviour <= LATE) & (rng.random(n) < PAYER_SWITCH_SHARE)
    behaviour = np.where(switch, LATE - behaviour, behaviour)
    terms = invoices.due_date - invoices.invoice_date
    prompt_date = invoices.invoice_date + rng.integers(0, terms)
    late_date = invoices.due_date + rng.integers(LATE_DAYS[0], LATE_DAYS[1] + 1, n)
    partial_date = np.maximum(
        invoices.invoice_date,
        invoices.due_date + rng.integers(PARTIAL_DAYS[0], PARTIAL_DAYS[1] + 1, n),
    )
    partial_amount = _round_cents(invoices.amount * rng.uniform(*PARTIAL_SHARE, n))
    payment_date = np.select(
        [behaviour == PROMPT, behaviour == LATE], [prompt_date, late_date], partial_date
    )
    amount = np.where(behaviour == PARTIAL, np.maximum(1, partial_amount), invoices.amount)
    opening = invoices.order < 0
    # A payment of an opening invoice names it: only its invoice is missing from the export.
    unlinked = (rng.random(n) < UNLINKED_PAYMENT_SHARE) & ~opening
    method = rng.choice(len(METHODS), size=n, p=METHOD_WEIGHTS)
    paid = (
        (behaviour != NON_PAYER)
        & (payment_date <= calendar.period_end)
        & (payment_date >= calendar.starts[0])
    )

    invoice = np.flatnonzero(paid)
    invoice = invoice[np.lexsort((invoice, payment_date[invoice]))]
    year = calendar.index_of(payment_date[invoice])
    ids = _document_ids("PAY", calendar, year, DOC_SEQ_WIDTH)
    payments = _Payments(
        ids=ids,
        customer=invoices.customer[invoice],
        invoice=np.where(unlinked[invoice], -1, invoice),
        payment_date=payment_date[invoice],
        amount=amount[invoice],
        method=method[invoice],
    )
    paid_amount = np.zeros(n, dtype=np.int64)
    paid_amount[invoice] = amount[invoice]
    status = np.select([paid_amount >= invoices.amount, paid_amount > 0], [PAID, PARTLY_PAID], OPEN)
    return payments, status


# --- simulation: CRM profiles ----------------------------------------------------------------


@dataclass
class _Profile:
    """The CRM profile fields that change over time, one entry per customer."""

    relationship: np.ndarray
    rating: np.ndarray
    limit: np.ndarray  # cents
    status: np.ndarray
    flag: np.ndarray
    owner: np.ndarray
    updated: np.ndarray  # seconds since 1970

    def copy(self) -> _Profile:
        return _Profile(**{k: v.copy() for k, v in self.__dict__.items()})


@dataclass(frozen=True)
class _Event:
    """Planned profile changes: set `column` of `customer` to `value` at `second`."""

    column: str
    customer: np.ndarray
    year: np.ndarray
    second: np.ndarray
    value: np.ndarray


def _simulate_profiles(customers: _Customers, calendar: _Calendar, seed: int) -> list[_Profile]:
    """The CRM profile of every customer as of each year end (index = year index)."""
    rng = _rng(seed, "crm")
    size_rank = _size_rank(customers.value.sum(axis=1))
    profile = _initial_profile(rng, customers, size_rank)
    events = _planned_events(rng, customers, calendar, size_rank)
    snapshots = []
    for year in range(calendar.count):
        _random_changes(rng, profile, customers, calendar, year)
        for event in events:
            chosen = event.year == year
            who = event.customer[chosen]
            getattr(profile, event.column)[who] = event.value[chosen]
            profile.updated[who] = np.maximum(profile.updated[who], event.second[chosen])
        snapshots.append(profile.copy())
    return snapshots


def _size_rank(total_value: np.ndarray) -> np.ndarray:
    """Percentile of each customer by value, 0 = biggest, ties broken by position."""
    order = np.argsort(-total_value, kind="stable")
    rank = np.empty(len(order), dtype=float)
    rank[order] = np.arange(len(order)) / max(1, len(order))
    return rank


def _random_seconds(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """A working-hours moment on each day."""
    return days * SECONDS_PER_DAY + rng.integers(*WORK_SECONDS, len(days))


def _initial_profile(
    rng: np.random.Generator, customers: _Customers, size_rank: np.ndarray
) -> _Profile:
    """Profile at creation: relationship and credit by size, active, owner from the pool."""
    n = customers.count
    big = size_rank < TOP_SHARE
    relationship = np.where(
        big,
        rng.choice(3, size=n, p=BIG_RELATIONSHIP_WEIGHTS),
        rng.choice(3, size=n, p=RELATIONSHIP_WEIGHTS),
    )
    peak = customers.value.max(axis=1)
    limit = _credit_limit(peak * rng.uniform(*CREDIT_LIMIT_SHARE, n))
    return _Profile(
        relationship=relationship,
        rating=rng.choice(len(CREDIT_RATINGS), size=n, p=CREDIT_RATING_WEIGHTS),
        limit=limit,
        status=np.full(n, ACTIVE, dtype=np.int64),
        flag=np.zeros(n, dtype=np.int64),
        owner=customers.owner.copy(),
        updated=_random_seconds(rng, customers.created),
    )


def _credit_limit(yuan: np.ndarray) -> np.ndarray:
    """A credit limit in cents, a multiple of 10,000 CNY and at least that."""
    steps = np.maximum(1, np.rint(yuan / CREDIT_LIMIT_STEP))
    return steps.astype(np.int64) * CREDIT_LIMIT_STEP * 100


def _random_changes(
    rng: np.random.Generator,
    profile: _Profile,
    customers: _Customers,
    calendar: _Calendar,
    year: int,
) -> None:
    """A minority of customers created before the year change one profile field in it."""
    n = customers.count
    movers = (customers.created < calendar.starts[year]) & (rng.random(n) < PROFILE_CHANGE_SHARE)
    which = rng.choice(len(PROFILE_FIELD_WEIGHTS), size=n, p=PROFILE_FIELD_WEIGHTS)
    step = rng.choice([-1, 1], size=n)
    rating = np.clip(profile.rating + step, 0, RATING_D - 1)
    relationship = np.clip(profile.relationship + step, 0, len(RELATIONSHIP) - 1)
    limit = _credit_limit(profile.limit / 100 * rng.uniform(*CREDIT_LIMIT_CHANGE, n))
    owner = rng.integers(0, len(customers.owners), n)
    day = calendar.starts[year] + rng.integers(0, calendar.lengths[year], n)
    second = _random_seconds(rng, day)
    for code, column, new in (
        (0, "rating", rating),
        (1, "limit", limit),
        (2, "owner", owner),
        (3, "relationship", relationship),
    ):
        chosen = movers & (which == code)
        getattr(profile, column)[chosen] = new[chosen]
        profile.updated[chosen] = np.maximum(profile.updated[chosen], second[chosen])


def _planned_events(
    rng: np.random.Generator, customers: _Customers, calendar: _Calendar, size_rank: np.ndarray
) -> list[_Event]:
    """Closures, blacklistings, strategic flags and D ratings, some of them on big customers.

    Big customers (the top 20% by last-year value) are among them so that the eligibility
    rules of the key-account list have something to exclude.
    """
    last_year = calendar.count - 1
    last_value = customers.value[:, last_year]
    big = np.flatnonzero((_size_rank(last_value) < BIG_SHARE) & (last_value > 0))
    closed, close_year = _closures(rng, customers, big, last_year)
    blacklisted, black_year = _blacklistings(rng, customers, calendar, big, closed)
    flagged, flag_year = _strategic_flags(rng, customers, calendar, size_rank)
    n_downgraded = max(1, round(D_DOWNGRADE_SHARE * customers.count))
    downgraded = _pick(rng, np.setdiff1d(big, closed), n_downgraded)
    planned = (
        ("status", closed, close_year, CLOSED),
        ("status", blacklisted, black_year, BLACKLISTED),
        ("flag", flagged, flag_year, 1),
        ("rating", downgraded, np.full(len(downgraded), last_year), RATING_D),
    )
    return [
        _event(rng, column, who, year, customers, calendar, value)
        for column, who, year, value in planned
    ]


def _closures(
    rng: np.random.Generator, customers: _Customers, big: np.ndarray, last_year: int
) -> tuple[np.ndarray, np.ndarray]:
    """(customers, year index) closed: mostly churners the year after, a few big ones lately."""
    n_closed = round(CLOSED_SHARE * customers.count)
    n_big = min(len(big), max(1, round(BIG_AMONG_CLOSED * n_closed))) if n_closed else 0
    closed_big = _pick(rng, big, n_big)
    churned = np.flatnonzero(customers.last < last_year)
    closed_churned = _pick(rng, np.setdiff1d(churned, closed_big), n_closed - len(closed_big))
    year = np.concatenate([np.full(len(closed_big), last_year), customers.last[closed_churned] + 1])
    return np.concatenate([closed_big, closed_churned]), year


def _blacklistings(
    rng: np.random.Generator,
    customers: _Customers,
    calendar: _Calendar,
    big: np.ndarray,
    closed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(customers, year index) blacklisted: bad payers at some point, a few big ones lately."""
    n_black = round(BLACKLISTED_SHARE * customers.count)
    n_big = min(len(big), max(1, round(BIG_AMONG_BLACKLISTED * n_black))) if n_black else 0
    black_big = _pick(rng, np.setdiff1d(big, closed), n_big)
    bad_payers = np.flatnonzero(customers.payer >= PARTIAL)
    others = np.setdiff1d(bad_payers, np.concatenate([closed, black_big]))
    black_other = _pick(rng, others, n_black - len(black_big))
    other_year = np.maximum(
        customers.arrival[black_other], rng.integers(0, calendar.count, len(black_other))
    )
    year = np.concatenate([np.full(len(black_big), calendar.count - 1), other_year])
    return np.concatenate([black_big, black_other]), year


def _strategic_flags(
    rng: np.random.Generator, customers: _Customers, calendar: _Calendar, size_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(customers, year index) flagged strategic: half among the biggest, half mid-sized."""
    n_flag = max(1, round(STRATEGIC_SHARE * customers.count))
    mid = np.flatnonzero((size_rank >= BIG_SHARE) & (size_rank < MID_SIZE_RANK))
    top = np.flatnonzero(size_rank < TOP_FLAG_RANK)
    flag_mid = _pick(rng, mid, n_flag // 2)
    flag_top = _pick(rng, np.setdiff1d(top, flag_mid), n_flag - len(flag_mid))
    flagged = np.concatenate([flag_top, flag_mid])
    year = np.maximum(customers.arrival[flagged], rng.integers(0, calendar.count, len(flagged)))
    return flagged, year


def _pick(rng: np.random.Generator, candidates: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` distinct candidates, in ascending order."""
    count = max(0, min(count, len(candidates)))
    return np.sort(rng.choice(candidates, size=count, replace=False)).astype(np.int64)


def _event(
    rng: np.random.Generator,
    column: str,
    who: np.ndarray,
    year: np.ndarray,
    customers: _Customers,
    calendar: _Calendar,
    value: int,
) -> _Event:
    """Events on a day of the given year (after the customer's creation); later years drop."""
    year = np.asarray(year, dtype=np.int64)
    inside = year < calendar.count
    who, year = who[inside], year[inside]
    first = np.maximum(calendar.starts[year], customers.created[who] + 1)
    span = np.maximum(1, calendar.ends[year] - first + 1)
    day = np.minimum(first + rng.integers(0, span), calendar.ends[year])
    second = _random_seconds(rng, day)
    return _Event(column, who, year, second, np.full(len(who), value, dtype=np.int64))


# --- simulation: activities ------------------------------------------------------------------


@dataclass(frozen=True)
class _Activities:
    """CRM activities sorted by date."""

    ids: pa.Array
    customer: np.ndarray
    activity_date: np.ndarray
    kind: np.ndarray
    owner: np.ndarray  # owner-pool index
    score: np.ndarray  # 1..5, 0 when missing


def _simulate_activities(
    customers: _Customers, profiles: list[_Profile], calendar: _Calendar, seed: int
) -> _Activities:
    """Activities, more for bigger customers; complaints likelier where returns are frequent."""
    rng = _rng(seed, "activities")
    first_day, last_day = customers.window(calendar)
    exists = customers.created[:, None] <= calendar.ends[None, :]
    trading = customers.value > 0
    customer, year = np.nonzero(exists)
    weight = np.where(trading[customer, year], customers.value[customer, year], 0.0)
    weight = weight**ACTIVITY_SIZE_EXPONENT
    n_trading = int(trading[customer, year].sum())
    expected = np.where(
        trading[customer, year],
        ACTIVITIES_PER_TRADING_YEAR * n_trading * weight / max(weight.sum(), 1e-9),
        PROSPECT_ACTIVITIES,
    )
    counts = rng.poisson(expected)
    row = np.repeat(np.arange(len(counts)), counts)
    who, when = customer[row], year[row]

    start = np.where(
        trading[who, when],
        first_day[who, when],
        np.maximum(calendar.starts[when], customers.created[who]),
    )
    end = np.where(trading[who, when], last_day[who, when], calendar.ends[when])
    gap = rng.random(len(counts)) < CONTACT_GAP_SHARE
    day = _dates_with_gaps(rng, start, end, gap[row], rng.random(len(counts))[row])

    prone = customers.return_rate[who] == RETURN_PRONE_RATE
    kind = np.where(
        prone,
        _draw_categories(rng, PRONE_ACTIVITY_WEIGHTS, len(who)),
        _draw_categories(rng, ACTIVITY_WEIGHTS, len(who)),
    )
    score = rng.choice(np.arange(1, 6), size=len(who), p=SCORE_WEIGHTS)
    score = np.where(kind == COMPLAINT, rng.integers(1, 3, len(who)), score)
    score = np.where(rng.random(len(who)) < SCORE_MISSING_SHARE, 0, score)
    profile_owner = np.stack([p.owner for p in profiles])[when, who]
    owner = np.where(
        rng.random(len(who)) < OTHER_OWNER_SHARE,
        rng.integers(0, len(customers.owners), len(who)),
        profile_owner,
    )

    order = np.lexsort((np.arange(len(who)), customers.number[who], day))
    sorted_year = calendar.index_of(day[order])
    ids = _document_ids("ACT", calendar, sorted_year, DOC_SEQ_WIDTH)
    return _Activities(ids, who[order], day[order], kind[order], owner[order], score[order])


def _dates_with_gaps(
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    gap: np.ndarray,
    gap_position: np.ndarray,
) -> np.ndarray:
    """Uniform days in [start, end]; where `gap`, none inside a 100-day window (no contact)."""
    span = end - start + 1
    has_gap = gap & (span > CONTACT_GAP_DAYS + 30)
    usable = np.where(has_gap, span - CONTACT_GAP_DAYS, span)
    offset = np.floor(rng.random(len(start)) * usable).astype(np.int64)
    gap_start = np.floor(gap_position * np.maximum(usable, 1)).astype(np.int64)
    offset = np.where(has_gap & (offset >= gap_start), offset + CONTACT_GAP_DAYS, offset)
    return start + offset


def _draw_categories(rng: np.random.Generator, weights: Sequence[float], size: int) -> np.ndarray:
    return rng.choice(len(weights), size=size, p=np.array(weights) / np.sum(weights))


# --- the simulated world and its exports -----------------------------------------------------


@dataclass(frozen=True)
class _World:
    calendar: _Calendar
    customers: _Customers
    products: _Products
    orders: _Orders
    invoices: _Invoices
    invoice_status: np.ndarray
    payments: _Payments
    profiles: list[_Profile]
    activities: _Activities


def _simulate(n: int, calendar: _Calendar, scale: float, seed: int) -> _World:
    """Everything the exports show, independent of headers, encoding and format."""
    customers = _simulate_customers(n, calendar, seed)
    products = _simulate_products(scale, seed)
    orders = _simulate_orders(customers, products, calendar, scale, seed)
    invoices = _simulate_invoices(orders, customers, calendar, seed)
    payments, invoice_status = _simulate_payments(invoices, customers, calendar, seed)
    profiles = _simulate_profiles(customers, calendar, seed)
    activities = _simulate_activities(customers, profiles, calendar, seed)
    return _World(
        calendar,
        customers,
        products,
        orders,
        invoices,
        invoice_status,
        payments,
        profiles,
        activities,
    )


Columns = dict[str, "pa.Array | _Text"]


def _table(columns: Columns, headers: str) -> pa.Table:
    """A typed table with canonical column names, text spelled for the header style."""
    return pa.table(
        {
            name: column.spelled(headers) if isinstance(column, _Text) else column
            for name, column in columns.items()
        }
    )


def _exports(world: _World, source: str, headers: str) -> Iterator[tuple[int, pa.Table]]:
    """(year, table) of each file of a source, canonical column names, language-specific values."""
    calendar = world.calendar
    if source == "crm_accounts":
        for index, year in enumerate(calendar.years):
            yield year, _table(_account_columns(world, index), headers)
        return
    builders = {
        "orders": (_order_columns, lambda w: w.orders.year),
        "invoices": (_invoice_columns, lambda w: calendar.index_of(w.invoices.invoice_date)),
        "payments": (_payment_columns, lambda w: calendar.index_of(w.payments.payment_date)),
        "crm_activities": (
            _activity_columns,
            lambda w: calendar.index_of(w.activities.activity_date),
        ),
    }
    build, year_index = builders[source]
    table = _table(build(world), headers)
    bounds = np.searchsorted(year_index(world), np.arange(calendar.count + 1))
    for index, year in enumerate(calendar.years):
        yield year, table.slice(bounds[index], bounds[index + 1] - bounds[index])


def _order_columns(world: _World) -> Columns:
    orders, customers = world.orders, world.customers
    order_index = pa.array(orders.order, pa.int64())
    n = len(orders.order)
    owners = customers.owners[orders.heads.rep[orders.order]]
    return {
        "order_id": world.orders.order_ids.take(order_index),
        "line_no": pa.array(orders.line_no, pa.int64()),
        "order_date": _dates(orders.heads.day[orders.order]),
        "customer_id": customers.ids.take(pa.array(orders.customer, pa.int64())),
        "product_id": world.products.ids.take(pa.array(orders.product, pa.int64())),
        "quantity": pa.array(orders.quantity, pa.int64()),
        "unit_price": _money(orders.unit_price),
        "amount": _money(orders.amount),
        "cost_amount": _money(orders.cost),
        "currency": pa.array(np.full(n, CURRENCY)),
        "status": _vocabulary(ORDER_STATUS, orders.status),
        "sales_rep": _person_names(owners),
        "channel": _vocabulary(CHANNELS, orders.heads.channel[orders.order]),
    }


def _invoice_columns(world: _World) -> Columns:
    invoices = world.invoices
    n = len(invoices.amount)
    return {
        "invoice_id": invoices.ids,
        "customer_id": world.customers.ids.take(pa.array(invoices.customer, pa.int64())),
        "order_id": world.orders.order_ids.take(
            pa.array(np.maximum(invoices.order, 0), pa.int64(), mask=invoices.order < 0)
        ),
        "invoice_date": _dates(invoices.invoice_date),
        "due_date": _dates(invoices.due_date),
        "amount": _money(invoices.amount),
        "currency": pa.array(np.full(n, CURRENCY)),
        "status": _vocabulary(INVOICE_STATUS, world.invoice_status),
    }


def _payment_columns(world: _World) -> Columns:
    payments = world.payments
    n = len(payments.amount)
    linked = payments.invoice >= 0
    invoice_index = pa.array(np.where(linked, payments.invoice, 0), mask=~linked)
    return {
        "payment_id": payments.ids,
        "customer_id": world.customers.ids.take(pa.array(payments.customer, pa.int64())),
        "invoice_id": world.invoices.ids.take(invoice_index),
        "payment_date": _dates(payments.payment_date),
        "amount": _money(payments.amount),
        "currency": pa.array(np.full(n, CURRENCY)),
        "method": _vocabulary(METHODS, payments.method),
    }


def _activity_columns(world: _World) -> Columns:
    activities = world.activities
    missing = activities.score == 0
    return {
        "activity_id": activities.ids,
        "customer_id": world.customers.ids.take(pa.array(activities.customer, pa.int64())),
        "activity_date": _dates(activities.activity_date),
        "activity_type": _vocabulary(ACTIVITY_TYPES, activities.kind),
        "owner": _person_names(world.customers.owners[activities.owner]),
        "satisfaction_score": pa.array(activities.score, pa.int64(), mask=missing),
    }


def _account_columns(world: _World, year: int) -> Columns:
    """The CRM snapshot as of the end of a year: customers created by then."""
    customers = world.customers
    profile = world.profiles[year]
    who = np.flatnonzero(customers.created <= world.calendar.ends[year])
    rows = pa.array(who, pa.int64())
    parent = customers.parent[who]
    has_parent = parent >= 0
    city = customers.city[who]
    region = np.array([c[2] for c in CITIES])[city]
    industry = customers.industry[who]
    name = _joined(
        [
            _vocabulary([c[:2] for c in CITIES], city),
            _vocabulary(BRANDS, customers.brand[who]),
            _vocabulary([i[2:] for i in INDUSTRIES], industry),
            _vocabulary(LEGAL_FORMS, customers.legal_form[who]),
        ],
        "",
        " ",
    )
    contact = _person_names(customers.contact[who])
    email = pc.utf8_lower(
        pc.binary_join_element_wise(
            _vocabulary(GIVEN_NAMES, customers.contact[who] % len(GIVEN_NAMES)).en,
            ".",
            _vocabulary(SURNAMES, customers.contact[who] // len(GIVEN_NAMES)).en,
            "@",
            _vocabulary(BRANDS, customers.brand[who]).en,
            ".com.cn",
            "",
        )
    )
    return {
        "customer_id": customers.ids.take(rows),
        "customer_name": name,
        "parent_customer_id": customers.ids.take(
            pa.array(np.where(has_parent, parent, 0), mask=~has_parent)
        ),
        "industry": _vocabulary([i[:2] for i in INDUSTRIES], industry),
        "region": _vocabulary(REGIONS, region),
        "city": _vocabulary([c[:2] for c in CITIES], city),
        "account_owner": _person_names(customers.owners[profile.owner[who]]),
        "created_date": _dates(customers.created[who]),
        "relationship_type": _vocabulary(RELATIONSHIP, profile.relationship[who]),
        "credit_rating": pa.array(np.array(CREDIT_RATINGS)[profile.rating[who]]),
        "credit_limit": _money(profile.limit[who]),
        "status": _vocabulary(ACCOUNT_STATUS, profile.status[who]),
        "strategic_flag": _vocabulary(FLAG, profile.flag[who]),
        "updated_at": _timestamps(profile.updated[who]),
        "contact_person": contact,
        "phone": pa.array(customers.phone[who]).cast(pa.string()),
        "email": email,
    }


# --- writing files ---------------------------------------------------------------------------


@dataclass
class _CsvFile:
    """One CSV file to write: all-text table (canonical names) plus the planted layout defects."""

    name: str
    table: pa.Table
    blank_before: list[int] = field(default_factory=list)  # data rows preceded by a blank line
    blank_at_end: int = 0
    bom: bool = False


def _header_names(source: str, columns: Sequence[str], headers: str) -> list[str]:
    """Source headers for canonical column names (plus the unmapped contact columns)."""
    mapping = dict((ZH_ERP if headers == "zh" else CANONICAL)[source])
    mapping.update(CONTACT_HEADERS[headers])
    return [mapping[column] for column in columns]


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class _Writer:
    """Writes one source-year table in the chosen format, header style and encoding."""

    def __init__(self, home: Home, options: _Options) -> None:
        self.home = home
        self.options = options
        self.connection = duckdb.connect()

    def directory(self, source: str) -> Path:
        return self.home.inbox / source

    def clear(self, source: str) -> None:
        """Create the source's inbox folder and delete files an earlier generate wrote there."""
        directory = self.directory(source)
        directory.mkdir(parents=True, exist_ok=True)
        for path in sorted(directory.iterdir()):
            match = GENERATED_FILE.match(path.name)
            if match and match.group("source") == source and path.is_file():
                path.unlink()

    def write(
        self, source: str, year: int, table: pa.Table, planter: _Planter | None
    ) -> list[tuple[Path, int]]:
        """Write the file(s) of one source and year: [(path, data rows)]."""
        name = f"{source}_{year}.{self.options.fmt}"
        if self.options.fmt == "xlsx":
            return [self._xlsx(source, name, table)]
        if self.options.fmt == "parquet":
            return [self._parquet(source, name, table)]
        if planter is None:
            return [self._csv(source, _CsvFile(name, table))]
        return [self._csv(source, file) for file in planter.plant(source, year, name, table)]

    def _renamed(self, source: str, table: pa.Table) -> pa.Table:
        return table.rename_columns(_header_names(source, table.column_names, self.options.headers))

    def _csv(self, source: str, file: _CsvFile) -> tuple[Path, int]:
        """DuckDB writes UTF-8; blank lines are spliced in and other encodings streamed after."""
        path = self.directory(source) / file.name
        temporary = path.with_name(path.name + ".tmp")
        self.connection.register("export_rows", self._renamed(source, file.table))
        try:
            self.connection.execute(
                f"COPY export_rows TO {_sql_path(temporary)} (FORMAT csv, HEADER, DELIMITER ',')"
            )
        finally:
            self.connection.unregister("export_rows")
        if file.blank_before or file.blank_at_end:
            _insert_blank_lines(temporary, file.blank_before, file.blank_at_end)
        encoding = self.options.encoding
        if file.bom and encoding == "utf-8":
            encoding = "utf-8-sig"
        if encoding == "utf-8":
            temporary.replace(path)
        else:
            _transcode(temporary, path, encoding)
            temporary.unlink()
        return path, file.table.num_rows

    def _parquet(self, source: str, name: str, table: pa.Table) -> tuple[Path, int]:
        path = self.directory(source) / name
        temporary = path.with_name(path.name + ".tmp")
        pq.write_table(self._renamed(source, table), temporary)
        temporary.replace(path)
        return path, table.num_rows

    def _xlsx(self, source: str, name: str, table: pa.Table) -> tuple[Path, int]:
        path = self.directory(source) / name
        if table.num_rows > XLSX_MAX_ROWS:
            raise ConfigError(
                f"{name}: {table.num_rows:,} rows do not fit in one XLSX sheet "
                f"({XLSX_MAX_ROWS:,}); use csv or parquet at this scale"
            )
        temporary = path.with_name(path.name + ".tmp")
        _write_xlsx(temporary, source, self._renamed(source, table))
        temporary.replace(path)
        return path, table.num_rows


def _insert_blank_lines(path: Path, before_rows: Sequence[int], at_end: int) -> None:
    """Put empty lines before the given data rows (0 = first after the header) and at the end.

    No generated value holds a line break, so text lines are rows.
    """
    lines = path.read_bytes().split(b"\n")
    for row in sorted(before_rows, reverse=True):
        lines.insert(1 + row, b"")
    lines[-1:-1] = [b""] * at_end
    path.write_bytes(b"\n".join(lines))


def _transcode(source: Path, target: Path, encoding: str) -> None:
    """Re-encode a UTF-8 text file in streamed chunks (the codec writes any BOM once)."""
    with (
        open(source, encoding="utf-8", newline="") as reader,
        open(target, "w", encoding=encoding, newline="") as writer,
    ):
        while chunk := reader.read(TRANSCODE_CHUNK_CHARS):
            writer.write(chunk)


def _write_xlsx(path: Path, sheet_name: str, table: pa.Table) -> None:
    """An XLSX sheet with typed cells: text, numbers (money as 0.00) and real dates.

    xlsxwriter's constant-memory mode takes cells row by row, so this loop is per cell.
    """
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    workbook.set_properties({"created": XLSX_CREATED})
    sheet = workbook.add_worksheet(sheet_name)
    formats = {
        "money": workbook.add_format({"num_format": "0.00"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "timestamp": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    sheet.write_row(0, 0, table.column_names)
    cells = [_xlsx_cells(sheet, column, formats) for column in table.columns]
    values = [column_values for column_values, _, _ in cells]
    for row_number, row in enumerate(zip(*values, strict=True), start=1):
        for column_number, (value, (_, write, cell_format)) in enumerate(
            zip(row, cells, strict=True)
        ):
            if value is not None:
                write(row_number, column_number, value, cell_format)
    workbook.close()


def _xlsx_cells(
    sheet: Any, column: pa.ChunkedArray, formats: dict[str, Any]
) -> tuple[list, Callable, Any]:
    """(python values, xlsxwriter write method, cell format) for one column."""
    kind = column.type
    if pa.types.is_decimal(kind):
        return column.cast(pa.float64()).to_pylist(), sheet.write_number, formats["money"]
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return column.to_pylist(), sheet.write_number, None
    if pa.types.is_date(kind):
        return column.to_pylist(), sheet.write_datetime, formats["date"]
    if pa.types.is_timestamp(kind):
        return column.to_pylist(), sheet.write_datetime, formats["timestamp"]
    return column.to_pylist(), sheet.write_string, None


# --- messy exports ---------------------------------------------------------------------------

FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
IDEOGRAPHIC_SPACE = "\u3000"
PADDINGS = ("  {}" + IDEOGRAPHIC_SPACE, IDEOGRAPHIC_SPACE + "{}", " {}  ")
NULL_SPELLINGS = ("NULL", "-", "N/A", "#N/A")
LARGE_NUMBER = 1000
DUPLICATE_AMOUNT_DELTA = Decimal("10.00")
CORRECTED_LINES = 10
CORRECTION_FACTOR = 0.9
SUMMARY_LABEL = "合计"
PLANTS_PER_KIND = 3  # each defect kind is planted at least this often over all files
ORDER_BLANK_LINES = (2, 2)  # (in the middle, at the end) of each orders file
INVOICE_BLANK_LINES = (1, 1)  # of the first invoices file
KEYS = {
    "orders": ("order_id", "line_no"),
    "invoices": ("invoice_id",),
    "payments": ("payment_id",),
    "crm_accounts": ("customer_id",),
    "crm_activities": ("activity_id",),
}


@dataclass(frozen=True)
class _Plant:
    """A defect to plant `count` times per file in `column` of rows meeting `only`."""

    column: str
    kind: str
    count: int = 1
    only: str = "any"  # any | positive | negative | large


NORMALISED_PLANTS: dict[str, tuple[_Plant, ...]] = {
    "orders": (
        _Plant("quantity", "fullwidth", 1, "positive"),
        _Plant("amount", "thousands", 1, "large"),
        _Plant("unit_price", "thousands", 1, "large"),
        _Plant("amount", "currency", 3, "positive"),
        _Plant("amount", "parentheses", 1, "negative"),
        _Plant("order_date", "date", 4),
        _Plant("customer_id", "pad", 3),
        _Plant("sales_rep", "null", 4),
    ),
    "invoices": (
        _Plant("amount", "currency", 1, "positive"),
        _Plant("invoice_date", "date", 1),
        _Plant("due_date", "date", 1),
        _Plant("customer_id", "pad", 1),
    ),
    "payments": (
        _Plant("amount", "thousands", 1, "large"),
        _Plant("payment_date", "date", 1),
        _Plant("payment_id", "pad", 1),
    ),
    "crm_accounts": (
        _Plant("created_date", "date", 1),
        _Plant("customer_id", "pad", 1),
        _Plant("credit_limit", "thousands", 1, "large"),
        _Plant("account_owner", "null", 1),
    ),
}
# Per file; sources with two alternatives take them in turn, year by year.
QUARANTINE_PLANTS: dict[str, tuple[tuple[_Plant, ...], ...]] = {
    "orders": (
        (
            _Plant("customer_id", "missing"),
            _Plant("order_date", "bad_date"),
            _Plant("quantity", "bad_number"),
            _Plant("amount", "duplicate", 1, "positive"),
        ),
    ),
    "invoices": ((_Plant("customer_id", "missing"),), (_Plant("invoice_date", "bad_date"),)),
    "payments": ((_Plant("amount", "bad_number"),), (_Plant("customer_id", "missing"),)),
}


def _thousands(clean: str) -> str:
    """'-1234567.50' -> '-1,234,567.50'."""
    sign = "-" if clean.startswith("-") else ""
    whole, _, fraction = clean.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}" + (f".{fraction}" if fraction else "")


def _date_spelling(clean: str, variant: int) -> str:
    """'2024-03-05' as 2024年3月5日, 2024/3/5, 20240305 or the Excel serial 45356."""
    day = date.fromisoformat(clean)
    spellings = (
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.year}/{day.month}/{day.day}",
        day.strftime("%Y%m%d"),
        str((day - EXCEL_EPOCH).days),
    )
    return spellings[variant % len(spellings)]


def _normalisable(kind: str, clean: str, variant: int) -> tuple[str, str | None]:
    """(raw spelling, expected value after loading) of a clean value."""
    if kind == "fullwidth":
        return clean.translate(FULLWIDTH_DIGITS), clean
    if kind == "thousands":
        return _thousands(clean), clean
    if kind == "currency":
        spellings = (f"¥{clean}", f"￥{_thousands(clean)}", f"{clean}元")
        return spellings[variant % len(spellings)], clean
    if kind == "parentheses":
        return f"({_thousands(clean.lstrip('-'))})", clean
    if kind == "date":
        return _date_spelling(clean, variant), clean
    if kind == "pad":
        return PADDINGS[variant % len(PADDINGS)].format(clean), clean
    if kind == "null":
        return NULL_SPELLINGS[variant % len(NULL_SPELLINGS)], None
    raise ValueError(kind)


@dataclass
class _Records:
    """The content of planted.json; values are text as a loader must end up with them.

    normalised: {source, file, key, column, raw, expected, line} — the row loads and `column`
        holds `expected` (null: missing) although the file holds `raw`.
    quarantined: {source, file, key, reason, line} — the row must not load.
    summary_rows: {source, file, count, amount} — trailing 合计 rows (quarantined, no key).
    blank_lines: {source, file, count} — empty lines inside and at the end of a file.
    superseded: {source, file, key, column, expected} — a later file's value wins.
    bom: {source, file} — a UTF-8 file written with a BOM.
    rows_read: "source/file" -> data rows a loader counts (no header, no blank lines).

    `key` holds the clean business-key values; `line` is the 1-based line of the decoded
    text (the header is line 1, blank lines count).
    """

    normalised: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    summary_rows: list[dict] = field(default_factory=list)
    blank_lines: list[dict] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)
    bom: list[dict] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "normalised": self.normalised,
            "quarantined": self.quarantined,
            "summary_rows": self.summary_rows,
            "blank_lines": self.blank_lines,
            "superseded": self.superseded,
            "bom": self.bom,
            "rows_read": self.rows_read,
        }


class _MessyFile:
    """One file's text values being messed up, with the records of what was planted."""

    def __init__(self, source: str, name: str, strings: pa.Table, typed: pa.Table) -> None:
        self.source = source
        self.name = name
        self.columns = {
            column: strings.column(column).to_numpy(zero_copy_only=False).copy()
            for column in strings.column_names
        }
        self.clean = {column: values.copy() for column, values in self.columns.items()}
        self.typed = typed
        self.rows = strings.num_rows
        self.used = np.zeros(self.rows, dtype=bool)
        self.duplicates: list[tuple[int, dict[str, Any]]] = []
        self.summary: dict[str, Any] | None = None
        self.entries: list[tuple[list[dict], dict, int]] = []  # (list, entry, row), row pre-insert

    def key(self, row: int) -> dict[str, str]:
        return {column: self.clean[column][row] for column in KEYS[self.source]}

    def candidates(self, plant: _Plant) -> np.ndarray:
        """Unused rows whose clean value in the plant's column meets its condition."""
        eligible = ~self.used & pc.is_valid(self.typed.column(plant.column)).to_numpy(
            zero_copy_only=False
        )
        if plant.only != "any":
            numbers = self.typed.column(plant.column).cast(pa.float64()).fill_null(0).to_numpy()
            condition = {
                "positive": numbers > 0,
                "negative": numbers < 0,
                "large": numbers >= LARGE_NUMBER,
            }[plant.only]
            eligible &= condition
        return np.flatnonzero(eligible)

    def record(self, entries: list[dict], entry: dict, row: int) -> None:
        self.entries.append((entries, entry, row))

    def file(self, blank_middle: int, blank_end: int, rng: np.random.Generator) -> _CsvFile:
        """Insert duplicates and the summary row, choose blank lines, fix line numbers."""
        positions = np.array([row for row, _ in self.duplicates], dtype=np.int64)
        order = np.argsort(positions, kind="stable")
        positions = positions[order]
        copies = [self.duplicates[i][1] for i in order]
        columns = {}
        for column, values in self.columns.items():
            inserted = np.insert(values, positions, [copy[column] for copy in copies])
            if self.summary is not None:
                inserted = np.append(inserted, np.array([self.summary[column]], dtype=object))
            columns[column] = inserted
        total = self.rows + len(positions) + (self.summary is not None)

        def moved(row: int) -> int:
            return row + int(np.searchsorted(positions, row, side="right"))

        originals = [moved(row) for row in positions.tolist()]
        middle = np.setdiff1d(np.arange(1, total), originals)
        blank_before = sorted(
            rng.choice(middle, size=min(blank_middle, len(middle)), replace=False).tolist()
        )
        for entries, entry, row in self.entries:
            final = moved(row) - 1 if entry.get("reason") == "duplicate key" else moved(row)
            entry["line"] = 2 + final + int(np.searchsorted(blank_before, final, side="right"))
            entries.append(entry)
        table = pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})
        return _CsvFile(self.name, table, blank_before, blank_end if total else 0)


class _Planter:
    """Plants real-export defects into CSV files and records them for planted.json."""

    def __init__(self, options: _Options) -> None:
        self.options = options
        self.rng = _rng(options.seed, "messy")
        self.records = _Records()
        self.connection = duckdb.connect()
        self.variants: dict[str, int] = {}
        self.repeat = max(1, math.ceil(PLANTS_PER_KIND / len(options.years)))

    def _strings(self, table: pa.Table) -> pa.Table:
        """Every value as the text DuckDB's CSV writer would print for it."""
        self.connection.register("typed_rows", table)
        try:
            return self.connection.sql(
                "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM typed_rows"
            ).to_arrow_table()
        finally:
            self.connection.unregister("typed_rows")

    def _variant(self, kind: str) -> int:
        """Spellings of a kind take turns across all files."""
        self.variants[kind] = self.variants.get(kind, -1) + 1
        return self.variants[kind]

    def plant(self, source: str, year: int, name: str, table: pa.Table) -> list[_CsvFile]:
        """The file(s) to write for one source-year, with planted defects."""
        year_index = self.options.years.index(year)
        messy = _MessyFile(source, name, self._strings(table), table)
        for plant in NORMALISED_PLANTS.get(source, ()):
            self._normalise(messy, plant)
        alternatives = QUARANTINE_PLANTS.get(source, ((),))
        for plant in alternatives[year_index % len(alternatives)]:
            self._quarantine(messy, plant, year)
        if source == "orders" and messy.rows:
            self._summary(messy, table)
        blanks = (0, 0)
        if source == "orders":
            blanks = ORDER_BLANK_LINES
        elif source == "invoices" and year_index == 0:
            blanks = INVOICE_BLANK_LINES
        files = [messy.file(*blanks, self.rng)]
        if source == "payments" and year_index == 0 and self.options.encoding == "utf-8":
            files[0].bom = True
            self.records.bom.append({"source": source, "file": name})
        if source == "orders" and year_index == len(self.options.years) - 1:
            files.append(self._corrected(messy, year))
        for file in files:
            self._count(source, file)
        return files

    def _count(self, source: str, file: _CsvFile) -> None:
        self.records.rows_read[f"{source}/{file.name}"] = file.table.num_rows
        blank = len(file.blank_before) + file.blank_at_end
        if blank:
            self.records.blank_lines.append({"source": source, "file": file.name, "count": blank})

    def _normalise(self, messy: _MessyFile, plant: _Plant) -> None:
        """Respell clean values the loader must read back as the same value."""
        candidates = messy.candidates(plant)
        count = min(plant.count * self.repeat, len(candidates))
        for row in np.sort(self.rng.choice(candidates, size=count, replace=False)).tolist():
            clean = messy.clean[plant.column][row]
            raw, expected = _normalisable(plant.kind, clean, self._variant(plant.kind))
            messy.columns[plant.column][row] = raw
            messy.used[row] = True
            entry = {
                "source": messy.source,
                "file": messy.name,
                "key": messy.key(row),
                "column": plant.column,
                "raw": raw,
                "expected": expected,
            }
            messy.record(self.records.normalised, entry, row)

    def _quarantine(self, messy: _MessyFile, plant: _Plant, year: int) -> None:
        """Values no loader may accept: the row must be quarantined with this reason."""
        candidates = messy.candidates(plant)
        count = min(plant.count, len(candidates))
        for row in np.sort(self.rng.choice(candidates, size=count, replace=False)).tolist():
            messy.used[row] = True
            entry = {"source": messy.source, "file": messy.name, "key": messy.key(row)}
            if plant.kind == "missing":
                messy.columns[plant.column][row] = None
                entry["reason"] = f"missing {plant.column}"
            elif plant.kind == "bad_date":
                raw = f"{year}-13-01"
                messy.columns[plant.column][row] = raw
                entry["reason"] = f"bad date '{raw}'"
            elif plant.kind == "bad_number":
                messy.columns[plant.column][row] = "abc"
                entry["reason"] = "bad number 'abc'"
            else:  # a modified copy just before the row: the later (original) row wins
                copy = {column: values[row] for column, values in messy.clean.items()}
                copy[plant.column] = str(Decimal(copy[plant.column]) + DUPLICATE_AMOUNT_DELTA)
                messy.duplicates.append((row, copy))
                entry["reason"] = "duplicate key"
            messy.record(self.records.quarantined, entry, row)

    def _summary(self, messy: _MessyFile, table: pa.Table) -> None:
        """A trailing 合计 row holding the file's total amount."""
        total = pc.sum(table.column("amount")).as_py() or Decimal("0.00")
        messy.summary = {column: None for column in messy.columns}
        messy.summary[table.column_names[0]] = SUMMARY_LABEL
        messy.summary["amount"] = f"{total:.2f}"
        self.records.summary_rows.append(
            {"source": messy.source, "file": messy.name, "count": 1, "amount": f"{total:.2f}"}
        )

    def _corrected(self, messy: _MessyFile, year: int) -> _CsvFile:
        """A re-export of some lines with a corrected unit price (and amount)."""
        name = f"orders_{year}_corrected.csv"
        candidates = messy.candidates(_Plant("amount", "corrected", 1, "positive"))
        rows = np.sort(
            self.rng.choice(candidates, size=min(CORRECTED_LINES, len(candidates)), replace=False)
        )
        columns = {column: values[rows].copy() for column, values in messy.clean.items()}
        for index, row in enumerate(rows.tolist()):
            quantity = int(columns["quantity"][index])
            old_price = Decimal(columns["unit_price"][index])
            price = max(
                Decimal("0.01"),
                (old_price * Decimal(str(CORRECTION_FACTOR))).quantize(Decimal("0.01")),
            )
            if price == old_price:
                price = old_price + Decimal("0.01")
            amount = price * quantity
            columns["unit_price"][index] = f"{price:.2f}"
            columns["amount"][index] = f"{amount:.2f}"
            for column in ("amount", "unit_price"):
                self.records.superseded.append(
                    {
                        "source": "orders",
                        "file": name,
                        "key": messy.key(row),
                        "column": column,
                        "expected": columns[column][index],
                    }
                )
        table = pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})
        return _CsvFile(name, table)


def _write_planted(home: Home, planter: _Planter | None) -> None:
    """Write generated/planted.json for a messy run; remove a stale one otherwise."""
    path = home.generated_dir / PLANTED_FILE
    if planter is None:
        path.unlink(missing_ok=True)
        return
    home.generated_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(planter.records.document(), ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
