"""ServiceAccount tokens: the serviceaccounts/token subresource (TokenRequest) and their verification.

Tokens are JWTs signed RS256 with `<data-dir>/server/tls/service.key` (kept across restarts), with
upstream's claims: iss, sub `system:serviceaccount:<ns>:<name>`, aud, exp/iat/nbf, and the private
`kubernetes.io` claim naming the namespace, the ServiceAccount and the bound object (pod, secret or
node). A token authenticates only while its ServiceAccount (and bound object) still exist with the
same uid.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kijabi.apiserver.auth import User
from kijabi.machinery import errors
from kijabi.machinery.meta import rfc3339

if TYPE_CHECKING:
    from kijabi.apiserver.store import Store

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 48 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, key_path: Path) -> None:
        if key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            assert isinstance(key, rsa.RSAPrivateKey)
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            key_path.chmod(0o600)
        self.key = key
        public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(_sha256(public))

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.kid}
        signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            if header.get("alg") != "RS256":
                return None
            self.key.public_key().verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
            claims: dict[str, Any] = orjson.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature, orjson.JSONDecodeError):
            return None
        now = time.time()
        if claims.get("iss") != ISSUER or claims.get("exp", 0) < now or claims.get("nbf", 0) > now + 60:
            return None
        return claims


def _sha256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


async def request_token(store: Store, signer: TokenSigner, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Answer a TokenRequest for ServiceAccount namespace/name."""
    sa_res = store.registry.get("", "v1", "serviceaccounts")
    assert sa_res is not None
    sa = await store.get(sa_res, namespace, name)
    spec = body.get("spec") or {}
    expiration = spec.get("expirationSeconds") or DEFAULT_EXPIRATION
    if not isinstance(expiration, int) or expiration < MIN_EXPIRATION:
        raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [errors.invalid_value(
            "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")])
    expiration = min(expiration, MAX_EXPIRATION)
    audiences = spec.get("audiences") or [ISSUER]
    now = int(time.time())
    private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}}
    bound = spec.get("boundObjectRef")
    if bound:
        kind = bound.get("kind")
        plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind or "")
        if plural is None:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [errors.not_supported(
                "spec.boundObjectRef.kind", kind, ["Pod", "Secret", "Node"])])
        res = store.registry.get("", "v1", plural)
        assert res is not None
        obj = await store.get(res, namespace if res.namespaced else "", bound.get("name", ""))
        if bound.get("uid") and bound["uid"] != obj["metadata"]["uid"]:
            raise errors.conflict(plural, "", bound.get("name", ""), "the UID in the bound object reference does not match")
        private[kind.lower()] = {"name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}
    claims = {
        "aud": audiences, "exp": now + expiration, "iat": now, "nbf": now, "iss": ISSUER,
        "jti": str(uuid.uuid4()), "kubernetes.io": private, "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    return {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound},
        "status": {"token": signer.sign(claims), "expirationTimestamp": rfc3339(now + expiration)},
    }


async def authenticate(store: Store, signer: TokenSigner, token: str) -> User | None:
    """The user of a valid ServiceAccount token whose account (and bound object) still exist."""
    claims = signer.verify(token)
    if claims is None:
        return None
    private = claims.get("kubernetes.io") or {}
    ns = private.get("namespace", "")
    sa_ref = private.get("serviceaccount") or {}
    sa_res = store.registry.get("", "v1", "serviceaccounts")
    assert sa_res is not None
    try:
        sa = await store.get(sa_res, ns, sa_ref.get("name", ""))
    except errors.StatusError:
        return None
    if sa["metadata"]["uid"] != sa_ref.get("uid"):
        return None
    extra: dict[str, list[str]] = {}
    pod = private.get("pod")
    if pod:
        pods = store.registry.get("", "v1", "pods")
        assert pods is not None
        try:
            live = await store.get(pods, ns, pod.get("name", ""))
        except errors.StatusError:
            return None
        if live["metadata"]["uid"] != pod.get("uid"):
            return None
        extra = {"authentication.kubernetes.io/pod-name": [pod["name"]], "authentication.kubernetes.io/pod-uid": [pod["uid"]]}
    return User(f"system:serviceaccount:{ns}:{sa_ref.get('name', '')}", uid=sa_ref.get("uid", ""),
                groups=("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"), extra=extra)
