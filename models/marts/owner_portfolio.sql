-- Owners' portfolios (seed 001's KA managers, seed 004's 60/30/10 time policy per
-- salesperson): rating_year × account_owner, the current CRM profile's owner.
{{ portfolio_rollup('account_owner') }}
