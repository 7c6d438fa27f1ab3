"""A user's session."""

import time

from auth.tokens import ACCESS_TTL


class Session:
    def __init__(self, user_id, clock=time.time):
        self.user_id = user_id
        self.clock = clock
        self.started_at = clock()

    def issue_access_token(self):
        return {"user_id": self.user_id, "issued_at": self.clock(), "ttl": ACCESS_TTL}

    def logout(self, refresh_token):
        refresh_token["revoked"] = True
