"""How many collector processes ``feedback collector`` runs, and the port check before it starts them."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from feedback.collector_processes import ProcessesError, available_cores, check_port_free, collector_processes
from runtime.settings import Settings

SERVER = SecretStr("http://clickhouse:8123")
EMBEDDED = SecretStr("chdb://./.data/clickhouse")


def test_one_per_core_with_a_clickhouse_server() -> None:
    assert collector_processes(Settings(clickhouse_url=SERVER), None) == available_cores()


def test_the_option_wins_over_the_setting() -> None:
    settings = Settings(clickhouse_url=SERVER, collector_processes=3)
    assert collector_processes(settings, None) == 3
    assert collector_processes(settings, 5) == 5


def test_one_with_an_embedded_engine() -> None:
    assert collector_processes(Settings(clickhouse_url=EMBEDDED), None) == 1
    assert collector_processes(Settings(clickhouse_url=EMBEDDED), 1) == 1


def test_more_than_one_with_an_embedded_engine_is_refused() -> None:
    with pytest.raises(ProcessesError, match="--processes 2: the embedded ClickHouse"):
        collector_processes(Settings(clickhouse_url=EMBEDDED), 2)
    with pytest.raises(ProcessesError, match="--processes 4"):
        collector_processes(Settings(clickhouse_url=EMBEDDED, collector_processes=4), None)


def test_a_port_that_something_listens_on_is_refused() -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as another collector's would be
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ProcessesError, match=f"127.0.0.1:{port}: cannot listen there"):
            check_port_free("127.0.0.1", port)
