"""One ERP export, damaged the way exports get damaged (issue #21, #15 item 9), in GB18030
and in UTF-8: the damaged rows are quarantined, the others load as from the unedited file."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest

from kam.ingest import files
from tests.conftest import query, run_kam
from tests.helpers import batches, ingest_in_process, make_home

HEADER = (
    "订单编号",
    "行号",
    "下单日期",
    "客户编码",
    "产品名称",
    "数量",
    "单价",
    "订单状态",
    "销售员",
)
REPS = ("王芳", "李强", "张伟")
# 25 order lines: line i is i bolts at 1,0ii.50 each, sold by REPS[i % 3].
ROWS = tuple(
    (
        f"SO{i:04d}",
        "1",
        f"2024/3/{i}",
        f"C{i % 7 + 1:03d}",
        f"不锈钢螺栓 M{i}",
        str(i),
        f"1,{i:03d}.50",
        "已完成",
        REPS[i % 3],
    )
    for i in range(1, 26)
)
ENCODINGS = ("gb18030", "utf-8")
ORDERS = (
    "SELECT order_id, line_no, order_date::VARCHAR, customer_id, quantity, unit_price, amount, "
    "status, sales_rep FROM raw.orders ORDER BY order_id"
)


def csv_line(fields, delimiter: str = ",") -> str:
    """Fields as an ERP writes them: quoted where they hold a delimiter, quote or line break."""
    return delimiter.join(
        f'"{f}"' if any(c in f for c in (delimiter, '"', "\r", "\n")) else f for f in fields
    )


def export(rows=ROWS, ends=("\r\n",), header=HEADER) -> str:
    """The export's text, a Windows CSV; `ends` gives line i the end ends[i % len(ends)]."""
    lines = [csv_line(fields) for fields in (header, *rows)]
    return "".join(line + ends[i % len(ends)] for i, line in enumerate(lines))


def edited(changes: dict[int, tuple]) -> tuple:
    """ROWS with row i (1-based) replaced."""
    return tuple(changes.get(i, row) for i, row in enumerate(ROWS, start=1))


def with_rep(i: int, rep: str) -> tuple:
    return (*ROWS[i - 1][:8], rep)


def load(tmp_path: Path, text: str, encoding: str) -> Path:
    home = make_home(tmp_path)
    (home / "inbox" / "orders" / "export.csv").write_bytes(text.encode(encoding))
    ingest_in_process(home)
    return home


@pytest.fixture(scope="module")
def unedited(tmp_path_factory) -> dict[str, list[tuple]]:
    """The raw.orders rows of the unedited export, per encoding."""
    return {
        encoding: query(load(tmp_path_factory.mktemp(encoding), export(), encoding), ORDERS)
        for encoding in ENCODINGS
    }


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_the_unedited_export_loads_whole(unedited, encoding):
    rows = unedited[encoding]
    assert len(rows) == 25
    assert rows[6] == (
        "SO0007",
        1,
        "2024-03-07",
        "C001",
        Decimal(7),
        Decimal("1007.5"),
        Decimal("7052.5"),
        "completed",
        "李强",
    )
    # sum of i * (1000.5 + i) for i = 1..25 = 1000.5 * 325 + 5525
    assert sum(row[6] for row in rows) == Decimal("330687.5")


EXTRA_FIELD = (*ROWS[4], "备注")
TWO_FIELDS_SHORT = ROWS[10][:-2]
FOOTER = "共 25 条记录"
# (case, text, rows read, quarantined as (row_number, reason, raw_values), edited sales reps)
CASES = [
    (
        # 25 data rows, rows 5 and 11 damaged: 23 loaded, 2 quarantined
        "one row with an extra field, one with two fields missing",
        export(edited({5: EXTRA_FIELD, 11: TWO_FIELDS_SHORT})),
        25,
        [
            (5, "wrong field count", {"line": 6, "fields": list(EXTRA_FIELD)}),
            (11, "wrong field count", {"line": 12, "fields": list(TWO_FIELDS_SHORT)}),
        ],
        {},
    ),
    (
        # 25 data rows and a footer of one field: 25 loaded, the footer quarantined
        "a footer line after the data",
        export() + FOOTER + "\r\n",
        26,
        [(26, "summary row", {"line": 27, "fields": [FOOTER]})],
        {},
    ),
    (
        "a delimiter at the end of every line",
        export(ends=(",\r\n",)),
        25,
        [],
        {},
    ),
    (
        "a delimiter at the end of every data line, not of the header",
        export(ends=("\r\n", *[",\r\n"] * 25)),
        25,
        [],
        {},
    ),
    (
        "a delimiter at the end of the header only",
        export(ends=(",\r\n", *["\r\n"] * 25)),
        25,
        [],
        {},
    ),
    ("line ends CR only", export(ends=("\r",)), 25, [], {}),
    (
        # 14 lines written on Windows, one of them edited on Linux, 12 lines appended from Linux
        "CRLF and LF mixed",
        export(ends=("\r\n",) * 5 + ("\n",) + ("\r\n",) * 8 + ("\n",) * 12),
        25,
        [],
        {},
    ),
    (
        "quoted cells with line breaks in a CRLF file",
        export(edited({3: with_rep(3, "王芳\r\n华东一部"), 8: with_rep(8, "张伟\n华南二部")})),
        25,
        [],
        {"SO0003": "王芳\r\n华东一部", "SO0008": "张伟\n华南二部"},
    ),
    (
        # A mixed file, which DuckDB's reader refuses, with a CR, a CRLF and a LF in cells
        "CRLF and LF mixed, quoted cells with CR, CRLF and LF",
        export(
            edited(
                {
                    3: with_rep(3, "王芳\r华东一部"),
                    8: with_rep(8, "张伟\r\n华南二部"),
                    13: with_rep(13, "李强\n华北"),
                }
            ),
            ends=("\r\n", "\n"),
        ),
        25,
        [],
        {"SO0003": "王芳\r华东一部", "SO0008": "张伟\r\n华南二部", "SO0013": "李强\n华北"},
    ),
    (
        # Excel's Alt+Enter is a bare LF inside the quoted cell, the lines end in CRLF
        "Excel: a BOM, CRLF, quoted cells with a bare LF",
        "\ufeff"
        + export(
            edited(
                {
                    3: with_rep(3, "王芳\n华东一部"),
                    8: (*ROWS[7][:4], "不锈钢螺栓\nM8", *ROWS[7][5:8], "张伟\n华南二部"),
                }
            )
        ),
        25,
        [],
        {"SO0003": "王芳\n华东一部", "SO0008": "张伟\n华南二部"},
    ),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    ("text", "rows_read", "quarantined", "reps"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_a_damaged_export_loads_its_undamaged_rows(
    tmp_path, unedited, encoding, text, rows_read, quarantined, reps
):
    home = load(tmp_path, text, encoding)
    loaded = rows_read - len(quarantined)
    assert batches(home) == [("export.csv", "loaded", rows_read, loaded, len(quarantined))]
    assert [
        (row_number, reason, json.loads(raw_values))
        for row_number, reason, raw_values in query(
            home, "SELECT row_number, reason, raw_values FROM raw.quarantine ORDER BY row_number"
        )
    ] == quarantined
    damaged = {f"SO{row_number:04d}" for row_number, _, _ in quarantined}
    expected = [
        (*row[:8], reps.get(row[0], row[8])) for row in unedited[encoding] if row[0] not in damaged
    ]
    assert query(home, ORDERS) == expected


def test_a_quote_never_closed_is_set_aside_and_reading_goes_on(tmp_path, monkeypatch):
    # A record over the limit is set aside: here the one of the last line, whose quote is
    # never closed (its field would run to the end of a larger file).
    monkeypatch.setattr(files, "RECORD_LIMIT", 200)
    last = (*ROWS[24][:4], "不锈钢螺栓 M25" + "x" * 300, *ROWS[24][5:])
    text = export(ROWS[:24]) + csv_line(last).replace("不锈钢", '"不锈钢', 1) + "\r\n"
    home = load(tmp_path, text, "gb18030")
    assert batches(home) == [("export.csv", "loaded", 25, 24, 1)]
    assert query(home, "SELECT row_number, reason, raw_values FROM raw.quarantine") == [
        (25, "row too long", '{"line":26,"fields":null}')
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\r\n\r\n  \r\n", "export.csv: the file is empty (no header row)"),
        (
            b"x" * 300_000,
            "export.csv: no header row: the first 262144 characters hold no complete line "
            "(not a text export?)",
        ),
        (
            export(header=HEADER[:3] + HEADER[4:], rows=[r[:3] + r[4:] for r in ROWS]).encode(
                "gb18030"
            ),
            "export.csv: column '客户编码' (kam.yml sources.orders.columns.customer_id) not found "
            "in the header (searched the first 20 rows)",
        ),
        (
            export().encode("gb18030") + b"SO0026,1,2024/3/26,C006,\xff\xff\r\n",
            "export.csv: cannot be decoded as UTF-8, GB18030 or UTF-16",
        ),
    ],
    ids=["only blank lines", "one long line", "no customer column", "a byte not GB18030"],
)
def test_an_unreadable_export_is_rejected_saying_why(tmp_path, data, message):
    home = make_home(tmp_path)
    (home / "inbox" / "orders" / "export.csv").write_bytes(data)
    (batch,) = ingest_in_process(home).batches
    assert batch.status == "rejected"
    assert batch.message.startswith(message)
    assert query(home, "SELECT count(*) FROM raw.orders") == [(0,)]


# Fuzzing: random damage to the export, each mutation in a fresh home. Whatever the damage,
# a file loads with every row accounted for, or is rejected with one line saying why.
MUTATIONS = 150
_LINE_END = re.compile(rb"(?<=\n)|(?<=\r)(?!\n)")


def _lines(data: bytes) -> list[bytes]:
    return [line for line in _LINE_END.split(data) if line]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _insert(rng: random.Random, data: bytes, what: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + what + data[at:]


def _random_bytes(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.randbytes(rng.randint(1, 3)) + data[at + rng.randint(0, 2) :]
    return data


def _delimiter_drift(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    lines[i] = lines[i].replace(b",", rng.choice([b";", b"\t", b"", b",,"]), rng.randint(1, 9))
    return b"".join(lines)


def _duplicate_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"".join(lines[: i + 1] + lines[i:])


def _drop_line(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def _mixed_line_ends(rng: random.Random, data: bytes) -> bytes:
    return b"".join(
        line.rstrip(b"\r\n") + rng.choice([b"\r\n", b"\n", b"\r"]) for line in _lines(data)
    )


# Each kind of damage with its weight: bytes that no encoding decodes, and NUL bytes (binary
# data), make most files unreadable; they are drawn less often.
DAMAGE = {
    _truncate: 2,
    lambda rng, data: _insert(rng, data, b'"'): 2,
    _random_bytes: 1,
    _delimiter_drift: 2,
    _duplicate_line: 2,
    _drop_line: 2,
    lambda rng, data: _insert(rng, data, "\ufeff".encode()): 1,
    lambda rng, data: _insert(rng, data, b"\x00"): 1,
    _mixed_line_ends: 2,
    lambda rng, data: _insert(rng, data, rng.choice([b"\r", b"\n", b"\r\n"])): 1,
}


UNREADABLE = (
    "the file is empty",
    "no header row",
    "binary data",
    "cannot be decoded as",
    "undecodable as",
    "not found in the header",
)
# 8 rows of the export, two with a line break in a quoted cell.
FUZZED_ROWS = edited({3: with_rep(3, "王芳\r华东一部"), 6: with_rep(6, "张伟\n华南二部")})[:8]


def mutation(index: int) -> bytes:
    """The export, in a random encoding, damaged 1 to 3 times (the same bytes for an index)."""
    rng = random.Random(f"kam-fuzz-{index}")
    encoding = rng.choice(["gb18030", "gb18030", "utf-8", "utf-8", "utf-8-sig", "utf-16"])
    data = export(FUZZED_ROWS).encode(encoding)
    for _ in range(rng.randint(1, 3)):
        (damage,) = rng.choices(list(DAMAGE), weights=list(DAMAGE.values()))
        data = damage(rng, data)
    return data


@pytest.mark.parametrize("index", range(MUTATIONS))
def test_a_randomly_damaged_export_loads_accounted_for_or_is_rejected_in_one_line(tmp_path, index):
    home = make_home(tmp_path)
    (home / "inbox" / "orders" / "export.csv").write_bytes(mutation(index))
    (batch,) = ingest_in_process(home).batches
    counts = query(
        home,
        "SELECT b.rows_read, b.rows_loaded, b.rows_quarantined, "
        "(SELECT count(*) FROM raw.orders), (SELECT count(*) FROM raw.quarantine) "
        "FROM raw.batches AS b",
    )
    if batch.status == "rejected":  # for what it is made of, never for its shape
        assert batch.message.startswith("export.csv: ")
        assert "\n" not in batch.message and "\r" not in batch.message
        assert any(problem in batch.message for problem in UNREADABLE), batch.message
        assert counts == [(0, 0, 0, 0, 0)]
    else:
        assert batch.status == "loaded"
        ((rows_read, loaded, quarantined, orders, quarantine),) = counts
        assert rows_read == loaded + quarantined
        assert (orders, quarantine) == (loaded, quarantined)


@pytest.mark.parametrize(
    ("data", "exit_code"),
    [
        (export().encode("gb18030")[:40], 2),  # cut inside the header
        (export().encode("utf-8").replace(b"SO0003", b"SO\x000003"), 2),  # a NUL: binary
        (export(ends=("\r\n", "\n", "\r")).encode("gb18030"), 0),
    ],
    ids=["cut in the header", "a NUL byte", "mixed line ends"],
)
def test_kam_ingest_on_a_damaged_export_ends_in_one_line_or_loads(tmp_path, data, exit_code):
    home = make_home(tmp_path)
    (home / "inbox" / "orders" / "export.csv").write_bytes(data)
    done = run_kam("ingest", home=home, process=True)  # what a real process leaves on stderr
    assert done.returncode == exit_code
    # Progress goes to stderr too; the error, when there is one, is its one last `kam:` line.
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("kam:")]
    assert "Traceback" not in done.stderr
    if exit_code:
        assert errors == lines[-1:]
        assert errors[0].startswith("kam: 1 file(s) rejected: export.csv: ")
    else:
        assert errors == []
