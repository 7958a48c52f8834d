-- The portfolio roll-up of owner_portfolio by region (seed 001's regional KA managers):
-- rating_year × the current CRM profile's region.
{{ portfolio_rollup('region') }}
