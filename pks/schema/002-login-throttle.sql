-- 002-login-throttle: login throttling per address and client network
-- (pksd(8), LOGIN THROTTLING). One row per (address hash, network): the
-- network is the client's /24 (IPv4) or /64 (IPv6) as text, "unknown"
-- for a client that sent none, and "*" for the address as a whole.
-- Times are Unix seconds. The client networks an address logs in from
-- are kept here (last_success): a copy of the database tells them.
-- Statements are idempotent: a migration cut short is simply run again.

CREATE TABLE IF NOT EXISTS login_throttle (
	addr_hash    INT UNSIGNED NOT NULL,
	network      VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	failures     INT UNSIGNED NOT NULL DEFAULT 0,
	not_before   BIGINT NOT NULL DEFAULT 0,
	last_failure BIGINT NOT NULL DEFAULT 0,
	last_success BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (addr_hash, network)
) ENGINE=InnoDB;
