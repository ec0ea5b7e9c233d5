"""The local stand-in for API Gateway's JWT authorizer."""

from __future__ import annotations

import time

import pytest
from joserfc import jwk

from campaign_local.auth import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    AuthError,
    JwtVerifier,
    LocalIdentityProvider,
    load_or_create_signing_key,
)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentityProvider:
    return LocalIdentityProvider(load_or_create_signing_key(tmp_path_factory.mktemp("auth") / "key.json"))


@pytest.fixture(scope="module")
def verifier(identity: LocalIdentityProvider) -> JwtVerifier:
    return JwtVerifier(identity.jwks(), issuer=LOCAL_ISSUER, audiences=[LOCAL_AUDIENCE])


def test_a_valid_token_gives_its_claims_as_api_gateway_does(identity, verifier) -> None:
    claims = verifier.verify(f"Bearer {identity.issue('acme', groups=['a', 'b'])}")
    assert claims["sub"] == "acme"
    assert claims["iss"] == LOCAL_ISSUER
    # API Gateway hands every claim over as a string, arrays as "[a b]".
    assert isinstance(claims["exp"], str) and int(claims["exp"]) > time.time()
    assert claims["groups"] == "[a b]"


def test_the_bearer_prefix_is_optional(identity, verifier) -> None:
    assert verifier.verify(identity.issue("acme"))["sub"] == "acme"


def test_the_audience_may_come_as_client_id(identity) -> None:
    token = identity.issue("acme", aud="someone-else", client_id="app-client")
    verifier = JwtVerifier(identity.jwks(), issuer=LOCAL_ISSUER, audiences=["app-client"])
    assert verifier.verify(f"Bearer {token}")["sub"] == "acme"


def test_the_key_is_kept_on_disk_and_reused(tmp_path) -> None:
    path = tmp_path / "key.json"
    first = load_or_create_signing_key(path)
    assert load_or_create_signing_key(path).kid == first.kid
    assert oct(path.stat().st_mode)[-3:] == "600"


@pytest.mark.parametrize(
    ("make_header", "reason"),
    [
        (lambda idp: None, "missing Authorization header"),
        (lambda idp: "", "missing Authorization header"),
        (lambda idp: "Bearer ", "missing bearer token"),
        (lambda idp: "Bearer not.a.jwt", "malformed"),
        (lambda idp: "Bearer " + "x" * 40, "malformed"),
        (lambda idp: "Bearer " + idp.issue("acme", ttl_seconds=-1), "expired"),
        (lambda idp: "Bearer " + idp.issue("acme", nbf=int(time.time()) + 600), "not valid yet"),
        (lambda idp: "Bearer " + idp.issue("acme", aud="another-api"), "audience"),
        (lambda idp: "Bearer " + idp.issue("acme", iss="https://evil.example"), "issuer"),
        (lambda idp: "Bearer " + idp.issue("acme", exp=None), "expiry"),
        (lambda idp: "Bearer " + _other_key_provider().issue("acme"), "signature"),
        (lambda idp: "Bearer " + idp.issue("acme")[:-4] + "AAAA", "signature"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(identity, verifier, make_header, reason) -> None:
    with pytest.raises(AuthError, match=reason):
        verifier.verify(make_header(identity))


def _other_key_provider() -> LocalIdentityProvider:
    key = jwk.RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)
    key.ensure_kid()
    return LocalIdentityProvider(key)


def test_the_error_never_echoes_the_token(identity, verifier) -> None:
    token = identity.issue("acme", aud="another-api")
    with pytest.raises(AuthError) as raised:
        verifier.verify(f"Bearer {token}")
    assert token not in str(raised.value)
