"""A real OpenID Connect provider for the tests: oidc-provider-mock (built on Authlib's server
components) in a process of its own, on a free local port."""

import socket
import subprocess
import sys
import time

import pytest
import requests

PROVIDER_NAME = "Northshire ID"


def free_port() -> int:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        return spare.getsockname()[1]


@pytest.fixture(scope="session")
def provider():
    """The provider's issuer address, for the whole test session. It insists on a nonce, as
    escalate always sends one."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
         "--require-nonce"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, "the OpenID provider stopped at start-up"
            time.sleep(0.05)
        else:
            raise AssertionError("the OpenID provider did not start within 10 seconds")
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def single_sign_on(issuer: str) -> dict:
    """escalate's settings for single sign-on with the provider at ``issuer``."""
    return {
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "escalate-tests",
        "OIDC_CLIENT_SECRET": "a-client-secret-the-provider-checks",
        "OIDC_PROVIDER_NAME": PROVIDER_NAME,
    }


def give_claims(issuer: str, sub: str, claims: dict) -> None:
    """What the provider says about the person who signs in there as ``sub``."""
    assert requests.put(f"{issuer}/users/{sub}", json=claims, timeout=10).status_code == 204
