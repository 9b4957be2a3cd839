"""Which ClickHouse errors are the data's fault (dead-letter the culprits) and which are an outage
(backpressure: retry the batch later). A batch is never retried for what its data is."""

from __future__ import annotations

import re

from clickhouse_connect.driver.exceptions import ClickHouseError, DataError, OperationalError

# ClickHouse error codes (src/Common/ErrorCodes.cpp) that a value of the inserted data causes.
DATA_ERROR_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        32,  # ATTEMPT_TO_READ_AFTER_EOF
        33,  # CANNOT_READ_ALL_DATA
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW
    }
)
CODE = re.compile(r"Code: (\d+)\.")


def error_code(exc: ClickHouseError) -> int | None:
    """The ClickHouse error code in the message (``Code: 70. DB::Exception: …``), if any."""
    found = CODE.search(str(exc))
    return int(found.group(1)) if found else None


def is_data_error(exc: ClickHouseError) -> bool:
    """True when the data is at fault: ClickHouse refused a value, or the client could not even
    serialise one into its column (clickhouse-connect's ``DataError``). Never for an outage."""
    if isinstance(exc, OperationalError):
        return False
    if isinstance(exc, DataError):
        return True
    return error_code(exc) in DATA_ERROR_CODES
