"""Unit tests run with every socket disabled: no network, no database."""

from __future__ import annotations

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_sockets() -> object:
    disable_socket(allow_unix_socket=False)
    yield
    enable_socket()
