{#- engine: spark reads the raw layer (raw.*, ratings.*) as Parquet that kam writes after each
    load (KAM_SPARK_RAW_LOCATION/<schema>/<table>/): registered as external tables before every
    dbt invocation (on-run-start), so Spark sees the files of this run. DuckDB holds the raw
    tables themselves: nothing to do. -#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources', 'kam')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- if execute -%}
        {%- set location = env_var('KAM_SPARK_RAW_LOCATION') -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() -%}
            {%- if source.schema not in schemas -%}
                {%- do run_query('create database if not exists ' ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- set table = source.schema ~ '.' ~ source.identifier -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query(
                'create table ' ~ table ~ ' using parquet location '
                ~ "'" ~ location ~ '/' ~ source.schema ~ '/' ~ source.identifier ~ "'"
            ) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The incremental models (int_order_lines_netted, int_customer_months,
    int_receivables_open_items) merge by delete+insert on DuckDB. Spark's Parquet tables cannot
    delete rows: there they are tables, rebuilt whole by every build, and their clean-up hooks
    (deleting the rows an incremental merge leaves behind) have nothing to do. -#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'kam')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{% macro incremental_hooks(hooks) -%}
    {{ return(hooks if kam.incremental_materialization() == 'incremental' else []) }}
{%- endmacro %}

{#- The marts' contracts name DuckDB's types; dbt checks a contract by casting nulls to the
    declared types (dbt.cast), which Spark reads in its own names: varchar is string. (Spark's
    timestamp is an instant: the session's time zone is UTC, so it holds the UTC times DuckDB's
    timestamp holds.) -#}
{% macro spark_type(type) -%}
    {%- set names = {'varchar': 'string', 'text': 'string'} -%}
    {{- names.get(type | trim | lower, type) -}}
{%- endmacro %}

{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ kam.spark_type(type) }})
{%- endmacro %}

{#- A Parquet table on Spark cannot carry constraints (dbt-spark would ALTER its columns to
    NOT NULL, which only Delta tables accept): the contracts' column names and types are still
    enforced, and the not_null and key tests of every build check what the constraints say. -#}
{% macro spark__persist_constraints(relation, model) -%}
{%- endmacro %}

{#- Integer division, rounded down for non-negative operands (DuckDB's //, Spark's div). -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'kam')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    ({{ numerator }}) // ({{ denominator }})
{%- endmacro %}

{% macro spark__integer_divide(numerator, denominator) -%}
    ({{ numerator }}) div ({{ denominator }})
{%- endmacro %}

{#- engine: spark — after every invocation, the relations kam reads back (KAM_SPARK_EXPORTS:
    the marts and the ratings the gate and re-rating read) that this invocation built are
    written as Parquet to KAM_SPARK_EXPORT_LOCATION/<schema>/<name>/ (kam.spark loads them
    into the warehouse). On DuckDB kam reads them where dbt built them. -#}
{% macro export_relations(results) -%}
    {{ return(adapter.dispatch('export_relations', 'kam')(results)) }}
{%- endmacro %}

{% macro default__export_relations(results) -%}
{%- endmacro %}

{% macro spark__export_relations(results) -%}
    {%- if execute -%}
        {%- set wanted = env_var('KAM_SPARK_EXPORTS', '').split(',') -%}
        {%- set location = env_var('KAM_SPARK_EXPORT_LOCATION', '') -%}
        {%- for result in results -%}
            {%- set node = result.node -%}
            {%- set relation = node.schema ~ '.' ~ node.alias -%}
            {%- if node.resource_type == 'model' and result.status == 'success' and relation in wanted -%}
                {%- do run_query(
                    "insert overwrite directory '" ~ location ~ "/" ~ node.schema ~ "/" ~ node.alias
                    ~ "' using parquet select * from " ~ relation
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
