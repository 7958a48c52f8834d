{#- Fiscal calendar and date arithmetic behind macros, so the models stay portable
    (DuckDB here; Postgres and Spark through adapter.dispatch where they differ). -#}

{% macro fiscal_year(date_expr) -%}
    {%- set start_month = var('fiscal_year_start_month') | int -%}
    {%- if start_month == 1 -%}
        cast(extract(year from {{ date_expr }}) as integer)
    {%- else -%}
        cast(extract(year from {{ dbt.dateadd('month', 1 - start_month, date_expr) }}) as integer)
    {%- endif -%}
{%- endmacro %}

{% macro fiscal_year_start(year_expr) -%}
    {{ kam.make_date(year_expr, var('fiscal_year_start_month') | int, 1) }}
{%- endmacro %}

{% macro fiscal_year_end(year_expr) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 12, kam.fiscal_year_start(year_expr))) }} as date)
{%- endmacro %}

{% macro make_date(year_expr, month_expr, day_expr) -%}
    {{ return(adapter.dispatch('make_date', 'kam')(year_expr, month_expr, day_expr)) }}
{%- endmacro %}

{% macro default__make_date(year_expr, month_expr, day_expr) -%}
    make_date(cast({{ year_expr }} as integer), cast({{ month_expr }} as integer), cast({{ day_expr }} as integer))
{%- endmacro %}

{#- Whole days / months from start to end, a bigint on every engine (Spark's are ints). -#}
{% macro days_between(start_expr, end_expr) -%}
    cast({{ dbt.datediff(start_expr, end_expr, 'day') }} as bigint)
{%- endmacro %}

{% macro months_between(start_expr, end_expr) -%}
    cast({{ dbt.datediff(start_expr, end_expr, 'month') }} as bigint)
{%- endmacro %}

{#- The run's as-of date: var as_of_date, else KAM_AS_OF_DATE (how kam passes it), else today. -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of_date') or env_var('KAM_AS_OF_DATE', '') -%}
    {%- if as_of -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        cast({{ dbt.current_timestamp() }} as date)
    {%- endif -%}
{%- endmacro %}

{#- The date of the receivables aging: var aging_as_of_date, else KAM_AGING_AS_OF_DATE (kam build
    --aging-as-of), else empty (the latest order, invoice or payment date). -#}
{% macro aging_as_of_date() -%}
    {{- var('aging_as_of_date') or env_var('KAM_AGING_AS_OF_DATE', '') -}}
{%- endmacro %}
