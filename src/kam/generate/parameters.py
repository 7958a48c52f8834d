"""The simulated company: every parameter of the model, in one place."""

from __future__ import annotations

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
