"""Connecting beyond one machine: TLS and API keys come from temporalio's env configuration."""

from __future__ import annotations

from pathlib import Path

from temporalio.service import TLSConfig

from orderflow.config import Settings
from orderflow.temporal.client import connect_config


def test_address_and_namespace_come_from_settings(tmp_path: Path) -> None:
    settings = Settings(temporal_address="temporal.example:7233", temporal_namespace="shop")

    config = connect_config(settings, env={"TEMPORAL_CONFIG_FILE": str(tmp_path / "none.toml")})

    assert config["target_host"] == "temporal.example:7233"
    assert config["namespace"] == "shop"
    assert "api_key" not in config


def test_an_api_key_in_the_environment_is_used_with_tls(tmp_path: Path) -> None:
    env = {"TEMPORAL_API_KEY": "secret-key", "TEMPORAL_CONFIG_FILE": str(tmp_path / "x.toml")}

    config = connect_config(Settings(), env=env)

    assert config["api_key"] == "secret-key"
    assert config.get("tls") in (True,) or isinstance(config.get("tls"), TLSConfig)


def test_client_certificates_in_the_environment_configure_mutual_tls(tmp_path: Path) -> None:
    cert, key, ca = (tmp_path / name for name in ("client.pem", "client.key", "ca.pem"))
    for path, text in ((cert, "CERT"), (key, "KEY"), (ca, "CA")):
        path.write_text(text)
    env = {
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca),
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "x.toml"),
    }

    tls = connect_config(Settings(), env=env)["tls"]

    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == b"CERT"
    assert tls.client_private_key == b"KEY"
    assert tls.server_root_ca_cert == b"CA"


def test_grpc_messages_go_uncompressed_on_loopback_and_gzipped_elsewhere() -> None:
    from temporalio.service import GrpcCompression

    from orderflow.temporal.client import compression_for

    for address in ("127.0.0.1:7233", "localhost:7233", "[::1]:7233"):
        assert compression_for(Settings(temporal_address=address)) is GrpcCompression.NONE
    remote = Settings(temporal_address="temporal.example:7233")
    assert compression_for(remote) is GrpcCompression.GZIP
    forced = Settings(temporal_address="127.0.0.1:7233", grpc_compression="gzip")
    assert compression_for(forced) is GrpcCompression.GZIP
    assert compression_for(remote.model_copy(update={"grpc_compression": "none"})) is (
        GrpcCompression.NONE
    )
