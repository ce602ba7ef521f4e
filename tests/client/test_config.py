"""Kubeconfig and in-cluster configuration: what is read from where, and what is refused."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from kijabi.client.config import Config, load_default, load_incluster, load_kubeconfig
from kijabi.client.errors import ConfigError


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def _kubeconfig(*, user: dict[str, Any] | None = None, cluster: dict[str, Any] | None = None,
                current: str = "main", namespace: str | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"cluster": "c1", "user": "u1"}
    if namespace:
        ctx["namespace"] = namespace
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c1", "cluster": cluster or {"server": "https://127.0.0.1:6443/"}},
                     {"name": "c2", "cluster": {"server": "https://other:443"}}],
        "users": [{"name": "u1", "user": user or {"token": "t0k"}}],
        "contexts": [{"name": "main", "context": ctx}, {"name": "second", "context": {"cluster": "c2", "user": "u1"}}],
    }


def test_embedded_data_is_decoded(tmp_path: Path) -> None:
    doc = _kubeconfig(
        cluster={"server": "https://10.0.0.1:6443", "certificate-authority-data": _b64(b"CA PEM")},
        user={"client-certificate-data": _b64(b"CERT"), "client-key-data": _b64(b"KEY")},
        namespace="team",
    )
    cfg = load_kubeconfig(_write(tmp_path / "kc", doc))
    assert (cfg.server, cfg.ca_data, cfg.client_cert_data, cfg.client_key_data, cfg.namespace) == (
        "https://10.0.0.1:6443", b"CA PEM", b"CERT", b"KEY", "team")
    assert cfg.token is None


def test_file_paths_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    doc = _kubeconfig(cluster={"server": "https://h:1", "certificate-authority": "pki/ca.crt"},
                      user={"client-certificate": "pki/c.crt", "client-key": "/abs/c.key", "tokenFile": "tok"})
    cfg = load_kubeconfig(_write(tmp_path / "kc", doc))
    assert cfg.ca_file == str(tmp_path / "pki/ca.crt")
    assert cfg.client_cert_file == str(tmp_path / "pki/c.crt")
    assert cfg.client_key_file == "/abs/c.key"
    assert cfg.token_file == str(tmp_path / "tok")


def test_token_file_is_reread_when_it_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kijabi.client.config as config_mod

    tok = tmp_path / "token"
    tok.write_text("first\n")
    cfg = Config(server="https://h", token_file=str(tok))
    assert cfg.bearer_token() == "first"
    tok.write_text("second")
    assert cfg.bearer_token() == "first"  # cached for a minute
    monkeypatch.setattr(config_mod, "TOKEN_REFRESH", 0.0)
    assert cfg.bearer_token() == "second"


def test_context_selects_cluster_and_strips_trailing_slash(tmp_path: Path) -> None:
    path = _write(tmp_path / "kc", _kubeconfig())
    assert load_kubeconfig(path).server == "https://127.0.0.1:6443"
    assert load_kubeconfig(path, context="second").server == "https://other:443"


def test_kubeconfig_env_list_is_merged_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _write(tmp_path / "a", {"current-context": "main", "contexts": [
        {"name": "main", "context": {"cluster": "c1", "user": "u1"}}]})
    second = _write(tmp_path / "b", _kubeconfig(current="second"))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{tmp_path / 'missing'}:{second}")
    cfg = load_kubeconfig()
    assert cfg.server == "https://127.0.0.1:6443" and cfg.token == "t0k"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"clusters": []}, "no current-context"),
        (_kubeconfig(current="nope"), 'context "nope" not found'),
        (_kubeconfig(user={"exec": {"command": "aws"}}), "exec plugins"),
        ({"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "gone"}}]}, 'cluster "gone"'),
    ],
    ids=["no-current-context", "unknown-context", "exec-plugin", "missing-cluster"],
)
def test_unusable_kubeconfigs_are_refused(tmp_path: Path, doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_kubeconfig(_write(tmp_path / "kc", doc))


def test_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no kubeconfig"):
        load_kubeconfig(tmp_path / "absent")


def test_in_cluster_config_reads_the_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_text("CA")
    (tmp_path / "namespace").write_text("kube-system")
    cfg = load_incluster(environ={"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443"}, root=tmp_path)
    assert (cfg.server, cfg.bearer_token(), cfg.ca_file, cfg.namespace) == (
        "https://10.43.0.1:443", "sa-token", str(tmp_path / "ca.crt"), "kube-system")


def test_in_cluster_ipv6_host_is_bracketed(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    cfg = load_incluster(environ={"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}, root=tmp_path)
    assert cfg.server == "https://[fd00::1]:443"


@pytest.mark.parametrize("env", [{}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}],
                         ids=["no-env", "no-token"])
def test_not_in_a_cluster(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="not running in a cluster"):
        load_incluster(environ=env, root=tmp_path)


def test_load_default_prefers_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(_write(tmp_path / "kc", _kubeconfig())))
    assert load_default().server == "https://127.0.0.1:6443"


def test_client_certificate_needs_both_halves() -> None:
    cfg = Config(server="https://h", client_cert_data=b"CERT")
    with pytest.raises(ConfigError, match="both the certificate and the key"):
        cfg.ssl_context()


def test_plain_http_needs_no_tls() -> None:
    assert Config(server="http://127.0.0.1:8080").ssl_context() is None
