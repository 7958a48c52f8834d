{#- A one-column relation `period_offset` with the integers 0..n. -#}
{% macro integer_series(n) -%}
    {{ return(adapter.dispatch('integer_series', 'kam')(n)) }}
{%- endmacro %}

{% macro default__integer_series(n) -%}
    select generate_series as period_offset from generate_series(0, {{ n }})
{%- endmacro %}

{% macro duckdb__integer_series(n) -%}
    select range as period_offset from range(0, {{ n }} + 1)
{%- endmacro %}

{% macro spark__integer_series(n) -%}
    select explode(sequence(cast(0 as bigint), {{ n }})) as period_offset
{%- endmacro %}
