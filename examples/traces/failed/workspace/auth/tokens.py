"""Access and refresh tokens."""

import time

ACCESS_TTL = 15 * 60
REFRESH_TTL = 7 * 24 * 3600


def is_expired(token, now=None):
    now = time.time() if now is None else now
    return now - token["issued_at"] > token["ttl"]


def refresh(session, refresh_token):
    if is_expired(refresh_token):
        raise PermissionError("refresh token expired")
    if refresh_token.get("revoked"):
        raise PermissionError("refresh token revoked")
    return session.issue_access_token()
