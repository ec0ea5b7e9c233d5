"""Local stand-in for API Gateway's JWT authorizer and for an identity provider.

The local engine has its own RSA signing key and issuer. Tokens it issues are checked
exactly as API Gateway's JWT authorizer checks them in AWS: RS256 signature against the
issuer's JWKS, then ``iss``, ``aud`` (or ``client_id``), ``exp`` and ``nbf``.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwk, jwt
from joserfc.errors import JoseError

LOCAL_ISSUER = "https://auth.campaign-calling.local"
LOCAL_AUDIENCE = "campaign-calling-local"
DEFAULT_KEY_FILE = Path(".local") / "jwt-signing-key.json"
_ALGORITHM = "RS256"


class AuthError(Exception):
    """The request is not authenticated; the message says why (never echoes the token)."""


def key_file_from_env(root: Path) -> Path:
    configured = os.environ.get("LOCAL_AUTH_KEY_FILE")
    return Path(configured) if configured else root / DEFAULT_KEY_FILE


def load_or_create_signing_key(path: Path) -> jwk.RSAKey:
    """The engine's signing key, kept on disk so `make token` and the engine agree."""
    if path.exists():
        return jwk.RSAKey.import_key(json.loads(path.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = jwk.RSAKey.generate_key(2048, parameters={"use": "sig", "alg": _ALGORITHM}, private=True)
    key.ensure_kid()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(key.as_dict(private=True)))
    tmp.chmod(0o600)
    tmp.replace(path)
    return key


@dataclass(frozen=True)
class LocalIdentityProvider:
    key: jwk.RSAKey
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_AUDIENCE
    tenant_claim: str = "sub"

    def issue(self, client: str, /, *, ttl_seconds: int = 3600, now: float | None = None, **claims: Any) -> str:
        """A signed token acting for ``client``; ``claims`` add to or replace the standard ones."""
        issued = int(time.time() if now is None else now)
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
            self.tenant_claim: client,
            **claims,
        }
        return jwt.encode({"alg": _ALGORITHM, "kid": self.key.kid}, payload, self.key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}


class JwtVerifier:
    """What API Gateway's JWT authorizer does with ``Authorization: Bearer <token>``."""

    def __init__(self, jwks: dict[str, Any], *, issuer: str, audiences: list[str], leeway_seconds: int = 0) -> None:
        self._keys = jwk.KeySet.import_key_set(jwks)
        self._issuer = issuer
        self._audiences = audiences
        self._leeway = leeway_seconds

    def verify(self, authorization: str | None) -> dict[str, Any]:
        if not authorization:
            raise AuthError("missing Authorization header")
        scheme, _, token = authorization.strip().partition(" ")
        # API Gateway accepts the token with or without the Bearer prefix.
        token = token.strip() if scheme.lower() == "bearer" else authorization.strip()
        if not token:
            raise AuthError("missing bearer token")
        try:
            decoded = jwt.decode(token, self._keys, algorithms=[_ALGORITHM])
        except (JoseError, ValueError) as exc:
            raise AuthError("token is malformed or its signature is not valid") from exc
        claims = decoded.claims
        now = time.time()
        if claims.get("iss") != self._issuer:
            raise AuthError("token issuer is not accepted")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if claims.get("client_id"):
            audiences.append(claims["client_id"])
        if not set(audiences) & set(self._audiences):
            raise AuthError("token audience is not accepted")
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise AuthError("token has no expiry")
        if exp + self._leeway <= now:
            raise AuthError("token has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf - self._leeway > now:
            raise AuthError("token is not valid yet")
        return as_api_gateway_claims(claims)


def as_api_gateway_claims(claims: dict[str, Any]) -> dict[str, str]:
    """The claims as API Gateway's JWT authorizer puts them in the event: all strings, so
    a handler that needs a claim's JSON type reads it from the token (see campaign_api.tenant)."""
    return {name: _as_api_gateway_claim(value) for name, value in claims.items()}


def unsigned_token(claims: dict[str, Any]) -> str:
    """A token with these claims and no valid signature: for events that replay a request
    API Gateway already verified (the handlers read the token's claims, never its signature)."""

    def segment(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{segment({'alg': _ALGORITHM, 'typ': 'JWT'})}.{segment(claims)}.bm90LXNpZ25lZA"


def _as_api_gateway_claim(value: Any) -> str:
    """API Gateway hands every claim to the integration as a string; arrays as "[a b]"."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
