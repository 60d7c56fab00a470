"""The embedded services refuse clearly (one line, no traceback) when they cannot start."""

import socket

import pytest

from market.runtime import StartupError
from market.runtime.meili import EmbeddedMeili, find_binary
from market.settings import Settings


def test_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(StartupError, match="MEILI_BIN=.* does not exist"):
        find_binary(Settings(_env_file=None, meili_bin=str(tmp_path / "nope")))


def test_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        meili = EmbeddedMeili(tmp_path, port, "k" * 24, Settings(_env_file=None))
        with pytest.raises(StartupError, match=f"port {port} is taken"):
            meili.start()


def test_production_refuses_the_placeholder_secret():
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(_env_file=None, environment="production")
