"""The one loader of kam.yml: sources and their column mappings, DuckDB settings, rules."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from kam.errors import ConfigError
from kam.home import Home
from kam.presets import PRESETS, preset_headers
from kam.rules import effective_rules
from kam.schema import SOURCES

FORMATS = ("auto", "csv", "xlsx", "parquet")
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16")
ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8-bom": "utf-8-sig",
    "utf8-sig": "utf-8-sig",
    "utf16": "utf-16",
}
DELIMITERS = {",": ",", "\t": "\t", "tab": "\t", ";": ";", "|": "|"}
SOURCE_KEYS = (
    "path",
    "format",
    "encoding",
    "columns",
    "preset",
    "delimiter",
    "header_row",
    "sheet",
)
TOP_KEYS = (
    "preset",
    "sources",
    "engine",
    "spark",
    "duckdb",
    "rules",
    "gate",
    "publish",
    "schedule",
)
# Where dbt builds the models (PRODUCT.md section 9): embedded DuckDB, or Apache Spark.
ENGINES = ("duckdb", "spark")
SPARK_METHODS = ("session", "thrift")
SPARK_KEYS = (
    "method",
    "master",
    "driver_memory",
    "host",
    "port",
    "user",
    "auth",
    "schema",
    "password_env",
    "raw_location",
    "export_location",
)
GATE_DEFAULTS = {"max_churn": 0.40, "max_volume_drop": 0.50, "max_data_age_days": None}
# The time zone of the schedule and of "today" (every run's default as-of date).
DEFAULT_TIMEZONE = "Asia/Shanghai"
DUCKDB_KEYS = ("memory_limit", "threads", "temp_directory")
PUBLISH_KEYS = ("postgres", "duckdb_storage_version")
# The storage format of the serving DuckDB file: v1.0.0 opens in DuckDB 0.10 and every 1.x,
# which BI drivers (Metabase, JDBC, ODBC) still bundle; `latest` is DuckDB 2.x only.
DEFAULT_SERVING_STORAGE_VERSION = "v1.0.0"
STORAGE_VERSION = re.compile(r"^(v\d+\.\d+\.\d+|latest)$")
SCHEDULE_KEYS = ("daily", "annual", "timezone", "approvers", "approval_timeout_days")
# How long the annual re-rating waits for an approver before it records a rejection.
DEFAULT_APPROVAL_TIMEOUT_DAYS = 7


@dataclass(frozen=True)
class ColumnMapping:
    """Where one canonical column comes from: a source header, a SQL expression or a constant."""

    column: str
    header: str | None = None
    sql: str | None = None
    value: Any = None
    # An explicit header mapping must exist in the file; a preset's optional header may not.
    strict: bool = True


@dataclass(frozen=True)
class SourceConfig:
    name: str
    paths: tuple[str, ...]
    format: str = "auto"
    encoding: str = "auto"
    delimiter: str | None = None
    header_row: int | None = None
    sheet: str | int | None = None
    columns: tuple[ColumnMapping, ...] = ()

    def files(self, home: Home) -> list[Path]:
        """The files matching the source's globs, in file-name order (the later one wins)."""
        found: set[Path] = set()
        for pattern in self.paths:
            full = pattern if Path(pattern).is_absolute() else str(home.root / pattern)
            for match in glob.glob(full, recursive=True):
                path = Path(match)
                if path.is_file() and not path.name.startswith((".", "~$")):
                    found.add(path.resolve())
        return sorted(found, key=lambda p: (p.name, str(p)))


@dataclass(frozen=True)
class DuckDBSettings:
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None


@dataclass(frozen=True)
class SparkSettings:
    """kam.yml `spark:` (engine: spark): a Spark session in kam's process (method: session),
    or a cluster's Spark Thrift server (method: thrift). raw_location: where kam writes the
    raw layer as Parquet for Spark to read; export_location: where Spark writes the relations
    kam reads back (both default under the home; on a cluster, storage both can reach)."""

    method: str = "session"
    # A local session on every core; a failed task is retried up to 4 times, as on a cluster.
    master: str = "local[*,4]"
    driver_memory: str = "2g"
    host: str | None = None
    port: int = 10000
    user: str | None = None
    auth: str = "NONE"
    schema: str = "kam"
    password_env: str | None = None  # the environment variable holding the password
    raw_location: str | None = None
    export_location: str | None = None


@dataclass(frozen=True)
class GateSettings:
    """Bounds of the checks against earlier runs (PRODUCT.md section 5)."""

    max_churn: float = 0.40
    max_volume_drop: float = 0.50
    max_data_age_days: int | None = None


@dataclass(frozen=True)
class Config:
    home: Home
    sources: dict[str, SourceConfig]
    duckdb: DuckDBSettings = field(default_factory=DuckDBSettings)
    engine: str = "duckdb"
    spark: SparkSettings = field(default_factory=SparkSettings)
    rules: dict[str, Any] = field(default_factory=dict)
    gate: GateSettings = field(default_factory=GateSettings)
    publish: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)

    @property
    def timezone(self) -> ZoneInfo:
        """kam.yml `schedule.timezone` (default Asia/Shanghai)."""
        return ZoneInfo(str(self.schedule.get("timezone", DEFAULT_TIMEZONE)))

    @property
    def serving_storage_version(self) -> str:
        """kam.yml `publish.duckdb_storage_version`: the storage version of the serving file."""
        return str(self.publish.get("duckdb_storage_version") or DEFAULT_SERVING_STORAGE_VERSION)

    def today(self) -> date:
        """Today in the schedule's time zone: the as-of date of a run that names none."""
        return datetime.now(self.timezone).date()


def _fail(where: str, problem: str) -> ConfigError:
    return ConfigError(f"kam.yml: {where}: {problem}")


def _check_keys(where: str, given: dict, allowed: tuple[str, ...]) -> None:
    for key in given:
        if key not in allowed:
            raise _fail(where, f"unknown key '{key}' (expected one of: {', '.join(allowed)})")


def _parse_mapping(where: str, column: str, spec: Any) -> ColumnMapping:
    if isinstance(spec, str | int) and not isinstance(spec, bool):
        return ColumnMapping(column, header=str(spec))
    if isinstance(spec, dict) and len(spec) == 1:
        ((kind, value),) = spec.items()
        if kind == "sql" and isinstance(value, str) and value.strip():
            return ColumnMapping(column, sql=value)
        if kind == "value":
            return ColumnMapping(column, value=value)
    raise _fail(where, "expected a source header, {sql: <expression>} or {value: <constant>}")


def _parse_source(name: str, spec: Any, default_preset: str | None) -> SourceConfig:
    where = f"sources.{name}"
    if name not in SOURCES:
        raise _fail(where, f"unknown source (expected one of: {', '.join(SOURCES)})")
    if not isinstance(spec, dict):
        raise _fail(where, "expected a mapping with at least 'path'")
    _check_keys(where, spec, SOURCE_KEYS)
    if "path" not in spec:
        raise _fail(where, "missing key 'path'")
    paths = spec["path"]
    paths = (paths,) if isinstance(paths, str) else tuple(paths or ())
    if not paths or not all(isinstance(p, str) and p for p in paths):
        raise _fail(f"{where}.path", "expected a glob or a list of globs")

    fmt = str(spec.get("format", "auto")).lower()
    if fmt not in FORMATS:
        raise _fail(f"{where}.format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
    encoding = str(spec.get("encoding", "auto")).lower().replace("_", "-")
    encoding = ENCODING_ALIASES.get(encoding, encoding)
    if encoding not in ENCODINGS:
        raise _fail(f"{where}.encoding", f"'{encoding}' is not one of {', '.join(ENCODINGS)}")
    delimiter = spec.get("delimiter", "auto")
    if delimiter != "auto" and delimiter not in DELIMITERS:
        raise _fail(f"{where}.delimiter", f"{delimiter!r} is not auto, ',', tab, ';' or '|'")
    header_row = spec.get("header_row", "auto")
    if header_row != "auto" and (
        not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1
    ):
        raise _fail(f"{where}.header_row", "expected auto or a row number (1 = the first line)")
    sheet = spec.get("sheet")

    preset = spec.get("preset", default_preset)
    source = SOURCES[name]
    columns: dict[str, ColumnMapping] = {}
    explicit = spec.get("columns") or {}
    if not isinstance(explicit, dict):
        raise _fail(f"{where}.columns", "expected a mapping of canonical column to source")
    if preset is None and not explicit:
        preset = "canonical"  # headers spelled like the canonical columns
    if preset is not None:
        if preset not in PRESETS:
            raise _fail(f"{where}.preset", f"unknown preset '{preset}' ({', '.join(PRESETS)})")
        for column, header in preset_headers(preset, name).items():
            columns[column] = ColumnMapping(column, header=header, strict=False)
    for column, mapping_spec in explicit.items():
        if column not in source.column_names:
            raise _fail(
                f"{where}.columns.{column}",
                f"unknown column (the {name} columns are: {', '.join(source.column_names)})",
            )
        columns[column] = _parse_mapping(f"{where}.columns.{column}", column, mapping_spec)
    for column in source.required:
        if column not in columns:
            raise _fail(f"{where}.columns", f"required column '{column}' is not mapped")

    return SourceConfig(
        name=name,
        paths=paths,
        format=fmt,
        encoding=encoding,
        delimiter=None if delimiter == "auto" else DELIMITERS[delimiter],
        header_row=None if header_row == "auto" else header_row,
        sheet=sheet,
        columns=tuple(columns[c] for c in source.column_names if c in columns),
    )


def _parse_spark(raw: Any) -> SparkSettings:
    if not isinstance(raw, dict):
        raise _fail("spark", "expected a mapping")
    _check_keys("spark", raw, SPARK_KEYS)
    method = raw.get("method", "session")
    if method not in SPARK_METHODS:
        raise _fail("spark.method", f"{method!r} is not one of {', '.join(SPARK_METHODS)}")
    port = raw.get("port", 10000)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise _fail("spark.port", "expected a port number")
    if method == "thrift" and not raw.get("host"):
        raise _fail("spark.host", "method: thrift needs the Thrift server's host")
    for key in ("master", "driver_memory", "host", "user", "auth", "schema", "password_env"):
        if key in raw and not isinstance(raw[key], str):
            raise _fail(f"spark.{key}", "expected a text value")
    settings = {key: raw[key] for key in SPARK_KEYS if raw.get(key) is not None}
    for key in ("raw_location", "export_location"):
        if key in settings:
            settings[key] = str(settings[key])
    return SparkSettings(**settings)


def parse_config(home: Home, raw: Any) -> Config:
    """Validate a parsed kam.yml document."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError("kam.yml: expected a mapping at the top level")
    _check_keys("top level", raw, TOP_KEYS)
    default_preset = raw.get("preset")
    if default_preset is not None and default_preset not in PRESETS:
        raise _fail("preset", f"unknown preset '{default_preset}' ({', '.join(PRESETS)})")
    sources_raw = raw.get("sources") or {}
    if not isinstance(sources_raw, dict):
        raise _fail("sources", "expected a mapping of source name to settings")
    sources = {
        name: _parse_source(name, spec, default_preset) for name, spec in sources_raw.items()
    }

    duckdb_raw = raw.get("duckdb") or {}
    if not isinstance(duckdb_raw, dict):
        raise _fail("duckdb", "expected a mapping")
    _check_keys("duckdb", duckdb_raw, DUCKDB_KEYS)
    threads = duckdb_raw.get("threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise _fail("duckdb.threads", "expected a positive integer")
    settings = DuckDBSettings(
        memory_limit=str(duckdb_raw["memory_limit"]) if "memory_limit" in duckdb_raw else None,
        threads=threads,
        temp_directory=duckdb_raw.get("temp_directory"),
    )
    engine = raw.get("engine", "duckdb")
    if engine not in ENGINES:
        raise _fail("engine", f"{engine!r} is not one of {', '.join(ENGINES)}")
    spark = _parse_spark(raw.get("spark") or {})
    for section in ("rules", "gate", "publish", "schedule"):
        if not isinstance(raw.get(section) or {}, dict):
            raise _fail(section, "expected a mapping")
    # Every section is checked whichever command reads kam.yml: a wrong rule fails `kam ingest`
    # as it fails `kam build`, not hours later in the first build.
    rules = dict(raw.get("rules") or {})
    effective_rules(rules)
    _check_keys("publish", raw.get("publish") or {}, PUBLISH_KEYS)
    storage_version = (raw.get("publish") or {}).get("duckdb_storage_version")
    if storage_version is not None and not STORAGE_VERSION.match(str(storage_version)):
        raise _fail(
            "publish.duckdb_storage_version",
            f"{storage_version!r} is not a DuckDB version like v1.0.0, or latest",
        )
    schedule = raw.get("schedule") or {}
    _check_keys("schedule", schedule, SCHEDULE_KEYS)
    if "timezone" in schedule:
        try:
            ZoneInfo(str(schedule["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise _fail(
                "schedule.timezone", f"unknown time zone {schedule['timezone']!r}"
            ) from None
    approvers = schedule.get("approvers")
    if approvers is not None and (
        not isinstance(approvers, list)
        or not all(isinstance(name, str) and name.strip() for name in approvers)
    ):
        raise _fail("schedule.approvers", "expected a list of Airflow user names")
    timeout = schedule.get("approval_timeout_days")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise _fail("schedule.approval_timeout_days", "expected a positive number of days")
    gate_raw = raw.get("gate") or {}
    _check_keys("gate", gate_raw, tuple(GATE_DEFAULTS))
    for key, value in gate_raw.items():
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise _fail(f"gate.{key}", "expected a non-negative number")
    return Config(
        home=home,
        gate=GateSettings(**{**GATE_DEFAULTS, **gate_raw}),
        sources=sources,
        duckdb=settings,
        engine=engine,
        spark=spark,
        rules=rules,
        publish=dict(raw.get("publish") or {}),
        schedule=dict(raw.get("schedule") or {}),
    )


def read_document(home: Home) -> dict[str, Any]:
    """The raw kam.yml document ({} when the file does not exist)."""
    if not home.config_path.exists():
        return {}
    try:
        document = yaml.safe_load(home.config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"kam.yml: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{home.config_path}: not UTF-8 text") from None
    return document or {}


def load_config(home: Home) -> Config:
    """Read and validate <home>/kam.yml."""
    if not home.config_path.exists():
        raise ConfigError(
            f"no kam.yml in {home.root}: run `kam init` or `kam generate` there first"
        )
    return parse_config(home, read_document(home))


def write_document(home: Home, document: dict[str, Any]) -> None:
    """Write kam.yml (validated first, so a bad document never replaces a good one)."""
    parse_config(home, document)
    home.root.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    tmp = home.config_path.with_suffix(".yml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(home.config_path)


def save_sources(home: Home, sources: dict[str, Any]) -> None:
    """Replace the `sources` section of kam.yml, keeping every other section as it was."""
    document = read_document(home)
    document["sources"] = sources
    write_document(home, document)
