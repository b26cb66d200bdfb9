"""`orderflow api` refuses unsafe configurations before it listens on anything."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from orderflow.cli.api import api, is_loopback

app = typer.Typer()
app.command()(api)


def test_without_api_keys_the_command_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERFLOW_API_KEYS", raising=False)

    result = CliRunner().invoke(app, [])

    assert result.exit_code == 2
    assert "no API keys configured" in result.output
    assert "--insecure-no-auth" in result.output


def test_insecure_no_auth_is_refused_on_a_non_loopback_address() -> None:
    result = CliRunner().invoke(app, ["--insecure-no-auth", "--host", "0.0.0.0"])

    assert result.exit_code == 2
    assert "only allowed on a loopback address" in result.output


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("api.example", False),
    ],
)
def test_loopback_addresses_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
