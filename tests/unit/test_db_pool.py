"""The database URL is checked before any connection, and its errors never quote it."""

from __future__ import annotations

import pytest

from autodev.config import ConfigError
from autodev.db import connection
from tests.conftest import reset_process_state


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("not-a-url-SECRETPW", "SECRETPW"),
        ("postgresql://app:pass word@db.internal/autodev", "pass word"),
    ],
)
def test_a_malformed_database_url_is_refused_without_quoting_it(
    monkeypatch: pytest.MonkeyPatch, url: str, secret: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    reset_process_state()
    try:
        with pytest.raises(ConfigError, match="DATABASE_URL is not valid") as refused, connection():
            pass
        assert secret not in str(refused.value)
    finally:
        reset_process_state()
