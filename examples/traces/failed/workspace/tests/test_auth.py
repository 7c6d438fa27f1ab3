import time
from datetime import datetime

from auth.session import Session
from auth.tokens import REFRESH_TTL, is_expired, refresh

FROZEN = 1696608000.0  # 2023-10-06 16:00:00 UTC


def session():
    return Session("u-1", clock=lambda: FROZEN)


def refresh_token():
    issued = datetime(2023, 10, 6, 16, 5)
    return {"issued_at": issued.timestamp(), "ttl": REFRESH_TTL}


def test_login_issues_access_token(session):
    assert session.issue_access_token()["issued_at"] == FROZEN


def test_access_token_expires(session):
    token = session.issue_access_token()
    assert not is_expired(token, now=FROZEN + 60)
    assert is_expired(token, now=FROZEN + 3600)


def test_refresh_token_accepted(session, refresh_token):
    token = refresh(session, refresh_token)
    assert token["user_id"] == "u-1"


def test_expired_token_rejected():
    old = {"issued_at": FROZEN - 2 * REFRESH_TTL, "ttl": REFRESH_TTL}
    assert is_expired(old, now=FROZEN)


def test_logout_revokes_refresh_token(session):
    token = {"issued_at": time.time(), "ttl": REFRESH_TTL}
    session.logout(token)
    try:
        refresh(session, token)
    except PermissionError as error:
        assert "revoked" in str(error)
    else:
        raise AssertionError("a revoked refresh token was refreshed")
