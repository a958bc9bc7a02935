-- Failed logins per (username, client address): five in a row lock that
-- pair, not the account, so nobody can lock a user out from elsewhere.
-- Each further lockout of the pair lasts twice as long (at most a day).
CREATE TABLE login_failures (
    username     TEXT NOT NULL,
    address      TEXT NOT NULL,
    failures     BIGINT NOT NULL,
    lockouts     BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (username, address)
);
