"""The embedded services refuse clearly (one line, no traceback) when they cannot start."""

import socket
from pathlib import Path

import pytest

from market.runtime import StartupError, embedded_services
from market.runtime.meili import EmbeddedMeili, find_binary, free_port
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


def test_missing_secret_is_generated_once_and_kept(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path / "a", database_url="postgresql://x/y",
                        meili_url="http://127.0.0.1:1")
    with embedded_services(settings) as env:
        first = env["SECRET_KEY"]
    path = tmp_path / "a" / "secret_key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 43 and Settings(_env_file=None, environment="production", secret_key=first)
    with embedded_services(settings) as env:
        assert env["SECRET_KEY"] == first  # reused on the next start: tokens and owner keys stay valid
    elsewhere = settings.model_copy(update={"data_dir": tmp_path / "b"})
    with embedded_services(elsewhere) as env:
        assert env["SECRET_KEY"] != first


def test_configured_secret_writes_no_file(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url="postgresql://x/y",
                        meili_url="http://127.0.0.1:1", secret_key="k" * 40)
    with embedded_services(settings) as env:
        assert "SECRET_KEY" not in env
    assert not (tmp_path / "secret_key").exists()


def test_embedded_meilisearch_key_is_not_on_its_command_line(settings, meili_process):
    cmdline = Path(f"/proc/{meili_process.process.pid}/cmdline").read_bytes()
    assert meili_process.master_key.encode() not in cmdline and b"master-key" not in cmdline


@pytest.mark.parametrize(("configured", "proxy_headers", "trusted"), [
    ("", False, None),  # default: X-Forwarded-For from nobody, not even 127.0.0.1
    ("10.0.0.5", True, "10.0.0.5"),
    ("10.0.0.5, 10.0.0.6", True, "10.0.0.5, 10.0.0.6"),
])
def test_forwarded_for_is_believed_only_from_configured_proxies(monkeypatch, configured, proxy_headers, trusted):
    import uvicorn

    from market import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    cli.serve(Settings(_env_file=None, environment="test", database_url="postgresql://x/y",
                       meili_url="http://127.0.0.1:1", port=free_port(), forwarded_allow_ips=configured))
    assert seen["proxy_headers"] is proxy_headers and seen["forwarded_allow_ips"] == trusted


def test_placeholder_secret_stops_the_cli_with_one_line(monkeypatch, tmp_path):
    from market.cli import running_services
    from market.settings import DEV_SECRET

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("SECRET_KEY", DEV_SECRET)
    with pytest.raises(StartupError, match="^SECRET_KEY is the public development placeholder"), running_services():
        pass
