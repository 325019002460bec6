-- 001-initial: key rows, API clients and login counters.
-- Nothing here is plaintext key material, address or password: a key row
-- holds only its 32-bit address hash, its ids and two sealed values (see
-- pksd(8)); a client holds a salted hash of its secret.
-- Statements are idempotent: a migration cut short is simply run again.

CREATE TABLE IF NOT EXISTS keyrow (
	row_id      BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	addr_hash   INT UNSIGNED NOT NULL,
	key_version INT UNSIGNED NOT NULL,
	sealed_blob VARBINARY(16384) NOT NULL,
	sealed_drs  VARBINARY(128) NOT NULL,
	pks_key_id  INT UNSIGNED NOT NULL,
	created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
	            ON UPDATE CURRENT_TIMESTAMP(6),
	KEY by_hash (addr_hash),
	KEY by_pks_key (pks_key_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS client (
	client_id   INT UNSIGNED NOT NULL PRIMARY KEY,
	role        ENUM('deliver', 'login', 'provision') NOT NULL,
	salt        BINARY(16) NOT NULL,
	secret_hash BINARY(32) NOT NULL,
	note        VARCHAR(200) NOT NULL DEFAULT '',
	created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS login_state (
	row_id       BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	failures     INT UNSIGNED NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	CONSTRAINT login_state_row FOREIGN KEY (row_id) REFERENCES keyrow (row_id)
		ON DELETE CASCADE
) ENGINE=InnoDB;
