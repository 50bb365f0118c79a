-- The dashboard's sessions (store/logins.py, server/auth.py): one row per login, its
-- random id, until when it holds (unix ms). A row in the database rather than a signed
-- expiry in the cookie, so that logging out ends the session for every server process on
-- the database and across restarts. Expired rows are deleted at the next login.
CREATE TABLE dashboard_logins (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dashboard_logins_expiry ON dashboard_logins (expires_at);
