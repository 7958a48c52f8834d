"""PRODUCT.md section 2's loading rules, on small exports written by hand in each test."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from tests.conftest import query, run_kam
from tests.helpers import batches, make_home

HEADER = "订单编号,下单日期,客户编码,数量,单价,订单状态\n"


def write(home: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = home / "inbox" / "orders" / name
    path.write_bytes(text.encode(encoding))
    return path


def test_status_on_an_empty_home_prints_empty_lists(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_kam("status", "--json", home=tmp_path / "empty")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["batches"] == [] and report["sources"] == []


def test_status_of_a_home_that_does_not_exist_is_one_line_exit_2(tmp_path):
    done = run_kam("status", "--json", home=tmp_path / "nothing")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"kam: {tmp_path / 'nothing'}: no such kam home (kam init creates one)\n"


def test_preamble_lines_and_tab_delimiter_are_detected(tmp_path):
    home = make_home(tmp_path)
    text = "销售订单导出\t\n导出时间 2024-03-31\n\n" + HEADER.replace(",", "\t")
    text += "SO1\t2024-03-05\t00123\t2\t10.50\t已完成\n"
    write(home, "a.txt", text)
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT order_id, customer_id, amount, status FROM raw.orders") == [
        ("SO1", "00123", Decimal("21"), "completed")
    ]
    assert query(home, "SELECT delimiter, header_row FROM raw.batches") == [("\t", 4)]


def test_semicolon_delimiter_with_utf16(tmp_path):
    home = make_home(tmp_path)
    write(home, "a.csv", HEADER.replace(",", ";") + "SO1;2024/3/5;7;1;1;\n", "utf-16")
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT order_id, customer_id, order_date::VARCHAR FROM raw.orders") == [
        ("SO1", "7", "2024-03-05")
    ]


def test_rejected_files_exit_2_and_the_others_load(tmp_path):
    home = make_home(tmp_path)
    write(home, "a_good.csv", HEADER + "SO1,2024-03-05,00123,1,5,\n")
    write(home, "b_no_customer.csv", "订单编号,下单日期,数量,单价\nSO2,2024-03-05,1,5\n")
    (home / "inbox" / "orders" / "c_binary.csv").write_bytes(bytes(range(256)) * 50)
    write(home, "d_bad_bytes.csv", HEADER + "SO3,2024-03-05,00123,1,5,\n")
    with open(home / "inbox" / "orders" / "d_bad_bytes.csv", "ab") as handle:
        handle.write(b"SO4,2024-03-05,\xff\xfe\xfa,1,5,\n")
    done = run_kam("ingest", home=home, process=True)  # what a real process leaves on stderr
    assert done.returncode == 2
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("kam:")]
    assert len(error_lines) == 1
    assert "b_no_customer.csv" in error_lines[0] and "'客户编码'" in error_lines[0]
    assert "c_binary.csv" in error_lines[0] and "d_bad_bytes.csv" in error_lines[0]
    assert "Traceback" not in done.stderr
    assert query(home, "SELECT order_id FROM raw.orders") == [("SO1",)]
    assert [b[:2] for b in batches(home)] == [
        ("a_good.csv", "loaded"),
        ("b_no_customer.csv", "rejected"),
        ("c_binary.csv", "rejected"),
        ("d_bad_bytes.csv", "rejected"),
    ]
    assert query(home, "SELECT count(*) FROM raw.quarantine") == [(0,)]


def test_loading_twice_is_a_no_op_and_a_copy_is_skipped(tmp_path):
    home = make_home(tmp_path)
    write(home, "a.csv", HEADER + "SO1,2024-03-05,00123,1,5,\nSO2,2024-03-05,00124,2,5,\n")
    run_kam("ingest", home=home, check=True)
    run_kam("ingest", home=home, check=True)
    assert batches(home) == [("a.csv", "loaded", 2, 2, 0)]
    write(home, "a_copy.csv", (home / "inbox/orders/a.csv").read_text(encoding="utf-8"))
    run_kam("ingest", home=home, check=True)
    assert batches(home)[-1] == ("a_copy.csv", "skipped", 0, 0, 0)
    assert query(home, "SELECT count(*) FROM raw.orders") == [(2,)]


def test_a_corrected_reexport_supersedes_the_rows_it_repeats(tmp_path):
    home = make_home(tmp_path)
    write(
        home, "orders_2024.csv", HEADER + "SO1,2024-03-05,00123,1,5,\nSO2,2024-03-05,00124,2,5,\n"
    )
    run_kam("ingest", home=home, check=True)
    write(home, "orders_2024_fix.csv", HEADER + "SO2,2024-03-05,00124,3,5,\n")
    run_kam("ingest", home=home, check=True)
    current = query(
        home,
        "SELECT order_id, quantity, batch_id FROM raw.orders WHERE superseded_by IS NULL "
        "ORDER BY order_id",
    )
    assert current == [("SO1", Decimal(1), 1), ("SO2", Decimal(3), 2)]
    assert query(
        home, "SELECT superseded_by FROM raw.orders WHERE order_id = 'SO2' AND batch_id = 1"
    ) == [(2,)]
    # The earlier batch keeps the counts recorded when it was loaded.
    assert batches(home)[0] == ("orders_2024.csv", "loaded", 2, 2, 0)


def test_files_of_one_run_are_taken_in_file_name_order(tmp_path):
    home = make_home(tmp_path)
    write(home, "b.csv", HEADER + "SO1,2024-03-05,00123,2,5,\n")
    write(home, "a.csv", HEADER + "SO1,2024-03-05,00123,1,5,\n")
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT quantity FROM raw.orders WHERE superseded_by IS NULL") == [
        (Decimal(2),)
    ]


def test_an_empty_file_is_a_batch_of_zero_rows(tmp_path):
    home = make_home(tmp_path)
    write(home, "empty.csv", HEADER)
    run_kam("ingest", home=home, check=True)
    assert batches(home) == [("empty.csv", "loaded", 0, 0, 0)]


def test_sql_and_value_mappings(tmp_path):
    sources = {
        "orders": {
            "path": "inbox/orders/*.csv",
            "columns": {
                "order_id": "Invoice",
                "order_date": "Date",
                "customer_id": "Customer",
                "quantity": "Qty",
                "unit_price": "Price",
                "status": {"sql": "CASE WHEN Invoice LIKE 'C%' THEN 'cancelled' END"},
                "currency": {"value": "gbp"},
            },
        }
    }
    home = make_home(tmp_path, sources)
    write(
        home,
        "o.csv",
        "Invoice,Date,Customer,Qty,Price\n1,2010-01-04,9,2,1.5\nC2,2010-01-04,9,-2,1.5\n",
    )
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT order_id, status, currency, amount FROM raw.orders ORDER BY 1") == [
        ("1", "completed", "GBP", Decimal("3")),
        ("C2", "cancelled", "GBP", Decimal("-3")),
    ]


def test_a_mapped_header_the_file_lacks_names_the_key_and_the_file(tmp_path):
    sources = {"orders": {"path": "inbox/orders/*.csv", "columns": {"sales_rep": "业务员"}}}
    home = make_home(tmp_path, sources)
    write(home, "o.csv", HEADER + "SO1,2024-03-05,00123,1,5,\n")
    done = run_kam("ingest", home=home)
    assert done.returncode == 2
    assert (
        "o.csv" in done.stderr
        and "业务员" in done.stderr
        and "sources.orders.columns.sales_rep" in done.stderr
    )


def test_a_wrong_key_in_kam_yml_is_one_line_exit_2(tmp_path):
    home = make_home(tmp_path, {"orders": {"path": "inbox/orders/*", "encodng": "gbk"}})
    done = run_kam("ingest", home=home)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "kam: kam.yml: sources.orders: unknown key 'encodng' (expected one of: path, format, "
        "encoding, columns, preset, delimiter, header_row, sheet)"
    )
    home2 = make_home(tmp_path / "2", {"orders": {"path": "x", "columns": {"order_no": "订单"}}})
    done = run_kam("ingest", home=home2)
    assert done.returncode == 2 and "sources.orders.columns.order_no: unknown column" in done.stderr


def test_a_line_with_too_many_fields_is_quarantined_and_counted(tmp_path):
    home = make_home(tmp_path)
    write(home, "a.csv", HEADER + "SO1,2024-03-05,00123,1,5,\nSO2,2024-03-05,00124,1,5,,,extra\n")
    run_kam("ingest", home=home, check=True)
    assert batches(home) == [("a.csv", "loaded", 2, 1, 1)]
    ((row_number, reason, raw_values),) = query(
        home, "SELECT row_number, reason, raw_values FROM raw.quarantine"
    )
    assert (row_number, reason) == (2, "wrong field count")
    assert json.loads(raw_values) == {
        "line": 3,
        "fields": ["SO2", "2024-03-05", "00124", "1", "5", "", "", "extra"],
    }


def test_the_same_content_twice_in_one_run_loads_once(tmp_path):
    home = make_home(tmp_path)
    write(home, "a.csv", HEADER + "SO1,2024-03-05,00123,1,5,\n")
    write(home, "b.csv", HEADER + "SO1,2024-03-05,00123,1,5,\n")
    write(home, "c.csv", HEADER + "SO2,2024-03-05,00123,1,5,\n")
    run_kam("ingest", home=home, check=True)
    assert batches(home) == [
        ("a.csv", "loaded", 1, 1, 0),
        ("b.csv", "skipped", 0, 0, 0),
        ("c.csv", "loaded", 1, 1, 0),
    ]
    assert query(home, "SELECT duplicate_of FROM raw.batches WHERE file_name = 'b.csv'") == [(1,)]
    assert query(home, "SELECT count(*) FROM raw.orders") == [(2,)]


def test_batches_are_numbered_in_load_order_across_sources(tmp_path):
    # Files are prepared one ahead of the one being stored: numbering must not follow that.
    sources = {
        "orders": {"path": "inbox/orders/*"},
        "crm_accounts": {"path": "inbox/crm/*"},
    }
    home = make_home(tmp_path, sources)
    (home / "inbox" / "crm").mkdir()
    names = ["orders_3.csv", "orders_1.csv", "bad.csv", "orders_2.csv"]
    for number, name in enumerate(names):
        write(home, name, HEADER + f"SO{number},2024-03-05,00123,1,5,\nSO9,2024-03-05,001,1,5,\n")
    write(home, "bad.csv", "no header here\n")
    for year in (2024, 2023):
        (home / "inbox" / "crm" / f"crm_{year}.csv").write_text(
            f"客户编码,客户名称\n00123,客户{year}\n", encoding="utf-8"
        )
    assert run_kam("ingest", home=home).returncode == 2
    assert query(home, "SELECT batch_id, file_name, status FROM raw.batches ORDER BY batch_id") == [
        (1, "bad.csv", "rejected"),
        (2, "orders_1.csv", "loaded"),
        (3, "orders_2.csv", "loaded"),
        (4, "orders_3.csv", "loaded"),
        (5, "crm_2023.csv", "loaded"),
        (6, "crm_2024.csv", "loaded"),
    ]
    # Latest batch wins: SO9 of orders_3, the 2024 CRM profile.
    assert query(
        home, "SELECT batch_id FROM raw.orders WHERE order_id = 'SO9' AND superseded_by IS NULL"
    ) == [(4,)]
    assert query(
        home, "SELECT customer_name FROM raw.crm_accounts WHERE superseded_by IS NULL"
    ) == [("客户2024",)]


def _whole_batches(home: Path) -> None:
    """Every batch row matches its raw and quarantined rows, and no row lacks its batch."""
    for source in ("orders", "invoices", "payments", "crm_accounts", "crm_activities"):
        assert (
            query(
                home,
                f"SELECT b.batch_id FROM raw.batches AS b LEFT JOIN raw.{source} AS r "
                f"USING (batch_id) WHERE b.source = '{source}' AND b.status = 'loaded' "
                "GROUP BY b.batch_id, b.rows_loaded HAVING count(r.batch_id) <> b.rows_loaded",
            )
            == []
        )
        assert query(
            home,
            f"SELECT count(*) FROM raw.{source} WHERE batch_id NOT IN "
            "(SELECT batch_id FROM raw.batches WHERE status = 'loaded')",
        ) == [(0,)]
    assert (
        query(
            home,
            "SELECT b.batch_id FROM raw.batches AS b LEFT JOIN raw.quarantine AS q "
            "USING (batch_id) GROUP BY b.batch_id, b.rows_quarantined "
            "HAVING count(q.batch_id) <> b.rows_quarantined",
        )
        == []
    )


def test_a_killed_ingest_leaves_no_half_loaded_file(tmp_path):
    home = tmp_path / "home"
    run_kam("generate", "--scale", "0.05", "--messy", home=home, check=True)
    command = [sys.executable, "-m", "kam", "ingest", "--home", str(home)]
    warehouse = home / "warehouse" / "kam.duckdb"
    started = time.monotonic()
    run_kam("ingest", home=home, check=True, process=True)  # timed as the killed ones run
    full_run = time.monotonic() - started
    files = query(home, "SELECT count(*) FROM raw.batches")
    for fraction in (0.1, 0.3, 0.5):  # a fresh warehouse each time, killed while loading
        shutil.rmtree(home / "warehouse")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        opened = time.monotonic()
        while not warehouse.exists() and time.monotonic() - opened < full_run:
            time.sleep(0.01)
        time.sleep(full_run * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
        _whole_batches(home)
        run_kam("ingest", home=home, check=True)
        _whole_batches(home)
        assert query(home, "SELECT count(*) FROM raw.batches") == files


def _parse_both_ways(home: Path, path: Path) -> tuple[bool, list[tuple], list[tuple]]:
    """A file parsed after a typed read (when DuckDB's reader takes it) and as text."""
    import duckdb

    from kam.config import load_config
    from kam.home import Home
    from kam.ingest.load import _parse_file, attach_stage
    from kam.ingest.parse import install_macros

    config = load_config(Home(home))
    con = duckdb.connect()
    install_macros(con)
    attach_stage(con)
    tables = []
    for typed in (True, False):
        _, table = _parse_file(con, config.home, config.sources["orders"], path, "p", typed)
        tables.append((table.typed, con.execute("SELECT * FROM p ORDER BY 1").fetchall()))
    return tables[0][0], tables[0][1], tables[1][1]


LINE_HEADER = "订单编号,行号,下单日期,客户编码,数量,单价\n"


def _home_with_line_numbers(tmp_path: Path) -> Path:
    return make_home(
        tmp_path, {"orders": {"path": "inbox/orders/*", "columns": {"line_no": "行号"}}}
    )


def test_numbers_and_dates_read_typed_equal_their_parsed_text(tmp_path):
    # Clean values in unusual spellings. DuckDB's CSV reader converts them itself (the fast
    # path for clean files); each must be what parsing its text gives.
    home = _home_with_line_numbers(tmp_path)
    path = write(
        home,
        "a.csv",
        LINE_HEADER + 'SO1,1," 2024-1-5 ",001," 12 ",+5\n'
        "SO1,+2,2024-01-05 00:00:00,001,1e3,.5\n"
        "SO2,16.0,2024-01-05T10:00,001,1.2345675,-0.0000005\n"
        "SO2,1e1,epoch,001,1_000,1.\n",
    )
    typed, fast, text = _parse_both_ways(home, path)
    assert typed
    assert fast == text
    run_kam("ingest", home=home, check=True)
    assert query(
        home,
        "SELECT order_id, line_no, order_date::VARCHAR, quantity, unit_price, amount "
        "FROM raw.orders ORDER BY row_number",
    ) == [
        ("SO1", 1, "2024-01-05", Decimal("12"), Decimal("5"), Decimal("60")),
        ("SO1", 2, "2024-01-05", Decimal("1000"), Decimal("0.5"), Decimal("500")),
        ("SO2", 16, "2024-01-05", Decimal("1.234568"), Decimal("-0.000001"), Decimal("-0.000001")),
        ("SO2", 10, "1970-01-01", Decimal("1000"), Decimal("1"), Decimal("1000")),
    ]


def test_a_clean_file_with_rows_to_quarantine_keeps_their_exported_text(tmp_path):
    # Every value converts, but a row lacks its customer and a date is out of range: those
    # rows are quarantined with their values as exported, as for a file read as text.
    home = make_home(tmp_path)
    path = write(
        home,
        "a.csv",
        HEADER + "SO1,2024-03-05,00123,1e3,5,\nSO2,2024-03-05,,1e3,5,\nSO3,1800-01-01,001,2,5,\n",
    )
    typed, fast, text = _parse_both_ways(home, path)
    assert typed and fast == text
    run_kam("ingest", home=home, check=True)
    assert batches(home) == [("a.csv", "loaded", 3, 1, 2)]
    assert query(
        home, "SELECT row_number, reason, raw_values->>'数量' FROM raw.quarantine ORDER BY 1"
    ) == [(2, "missing customer_id", "1e3"), (3, "bad date '1800-01-01'", "2")]


def test_a_fractional_line_number_is_quarantined_not_rounded(tmp_path):
    home = _home_with_line_numbers(tmp_path)
    path = write(
        home,
        "a.csv",
        LINE_HEADER
        + "SO1,1,2024-03-05,001,1,5\nSO1,2.0,2024-03-05,001,1,5\nSO1,1.5,2024-03-05,001,1,5\n",
    )
    # Read typed, 1.5 is unreadable as a whole number (its reason would show 1.500000): the
    # file is then read as text, and the reason shows the value as exported.
    assert _parse_both_ways(home, path)[0]
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT line_no FROM raw.orders ORDER BY 1") == [(1,), (2,)]
    assert query(home, "SELECT row_number, reason FROM raw.quarantine") == [
        (3, "bad integer '1.5'")
    ]


def test_files_hashed_before_are_not_read_again_unless_rewritten(tmp_path, monkeypatch):
    import kam.ingest.digests as digests_module
    from kam.db import connect
    from kam.ingest.digests import FileDigests
    from kam.warehouse import create_raw_schema

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("one\n")
    second.write_text("two\n")
    hashed = []
    monkeypatch.setattr(
        digests_module, "sha256_of", lambda path: hashed.append(path.name) or path.name * 2
    )
    con = connect(tmp_path / "w.duckdb")
    create_raw_schema(con)
    digests = FileDigests.load(con)
    assert [digests.sha256(first), digests.sha256(second)] == ["a.csva.csv", "b.csvb.csv"]
    digests.save(con)
    again = FileDigests.load(con)
    assert again.sha256(first) == "a.csva.csv"
    assert hashed == ["a.csv", "b.csv"]
    # Same size, modification time set back: the change time still tells.
    times = second.stat()
    second.write_text("TWO\n")
    os.utime(second, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert again.sha256(second) == "b.csvb.csv"
    assert hashed == ["a.csv", "b.csv", "b.csv"]
    con.close()


def test_a_file_rewritten_in_place_with_its_old_size_and_time_loads_again(tmp_path):
    home = make_home(tmp_path)
    path = write(home, "a.csv", HEADER + "SO1,2024-03-05,00123,1,5,\n")
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT file_path, sha256 FROM meta.file_digests") == [
        (str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    ]
    times = path.stat()
    write(home, "a.csv", HEADER + "SO1,2024-03-05,00123,2,5,\n")
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert path.stat().st_size == times.st_size
    run_kam("ingest", home=home, check=True)
    assert query(home, "SELECT quantity FROM raw.orders WHERE superseded_by IS NULL") == [
        (Decimal(2),)
    ]
