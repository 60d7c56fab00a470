"""How `market serve` configures uvicorn."""

from market.cli import server_options
from market.settings import Settings


def test_kept_alive_connections_outlive_a_proxys_idle_timeout():
    assert server_options(Settings(_env_file=None))["timeout_keep_alive"] == 75
    assert server_options(Settings(_env_file=None, keep_alive_seconds=5))["timeout_keep_alive"] == 5
