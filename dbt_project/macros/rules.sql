{#- Rule constants as SQL literals, so that no number is written inside a model. -#}

{#- round_half_up(n × share_i) for the i-th share of abc_ratio, in exact integer arithmetic:
    the ratio is scaled to integers, then floor((2·n·r + t) / (2·t)). -#}
{% macro abc_count(n_expr, index) -%}
    {%- set ratio = var('abc_ratio') -%}
    {%- set scaled = [] -%}
    {%- for part in ratio -%}{%- do scaled.append((part * 1000000) | round | int) -%}{%- endfor -%}
    {%- set total = scaled | sum -%}
    cast(floor((2 * cast({{ n_expr }} as bigint) * {{ scaled[index] }} + {{ total }}) / ({{ 2 * total }} * 1.0)) as bigint)
{%- endmacro %}

{% macro sql_list(values) -%}
    ({%- for value in values -%}'{{ value }}'{%- if not loop.last -%}, {% endif -%}{%- endfor -%})
{%- endmacro %}

{% macro truthy(expr) -%}
    lower(cast({{ expr }} as {{ dbt.type_string() }})) in ('true', 't', '1', 'yes', 'y')
{%- endmacro %}

{#- The 1:2:2 split by position: A = first a_count, B = next b_count, C = the rest. -#}
{% macro class_by_rank(rank_expr) -%}
    case
        when {{ rank_expr }} <= a_count then 'A'
        when {{ rank_expr }} <= a_count + b_count then 'B'
        else 'C'
    end
{%- endmacro %}

{#- Pareto on one value (value_share_cutoffs, default 80% / 95%): A while the value of the
    customers strictly before is under the first cut-off of the year's total, B under the
    second, else C; the first customer is always A. Compared exactly, in decimals. -#}
{% macro class_by_value_share(position_expr, before_expr, total_expr) -%}
    {%- set cutoffs = var('value_share_cutoffs') -%}
    case
        when {{ position_expr }} = 1 then 'A'
        when {{ total_expr }} <= 0 then 'C'
        when {{ before_expr }} < {{ cutoffs[0] }} * {{ total_expr }} then 'A'
        when {{ before_expr }} < {{ cutoffs[1] }} * {{ total_expr }} then 'B'
        else 'C'
    end
{%- endmacro %}

{% macro median(expr) -%}
    {{ return(adapter.dispatch('median', 'kam')(expr)) }}
{%- endmacro %}

{% macro default__median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro spark__median(expr) -%}
    percentile({{ expr }}, 0.5)
{%- endmacro %}

{#- The profile columns whose change makes a new history version. -#}
{% macro version_columns_as_text() -%}
    {%- set columns = ['customer_name', 'parent_customer_id', 'industry', 'region', 'city',
                       'account_owner', 'relationship_type', 'credit_rating', 'credit_limit',
                       'status', 'strategic_flag'] -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '∅')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ return(parts) }}
{%- endmacro %}

{#- One text field of a JSON document (the rules recorded with a rating run). -#}
{% macro json_text(json_expr, key) -%}
    {{ return(adapter.dispatch('json_text', 'kam')(json_expr, key)) }}
{%- endmacro %}

{% macro default__json_text(json_expr, key) -%}
    json_extract_string({{ json_expr }}, '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text(json_expr, key) -%}
    get_json_object({{ json_expr }}, '$.{{ key }}')
{%- endmacro %}
