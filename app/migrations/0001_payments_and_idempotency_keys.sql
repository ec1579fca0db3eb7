-- Payments and the idempotency keys that bind a client's retries to them.
-- Owned by the migration user; the service logs in as a member of payment_service, which gets DML on these tables
-- and nothing else (no DDL, no UPDATE or DELETE of payments: a payment, once written, never changes).
-- Card data: brand, last four digits and the HMAC token only. No PAN, no CVC, ever.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'payment_service') THEN
    CREATE ROLE payment_service NOLOGIN;
  END IF;
END
$$;

CREATE TABLE payments (
  id           text        PRIMARY KEY CHECK (id ~ '^pay_[A-Za-z0-9_-]{22}$'),
  status       text        NOT NULL CHECK (status IN ('approved', 'declined')),
  decline_code text        CHECK ((status = 'declined') = (decline_code IS NOT NULL)),
  amount       integer     NOT NULL CHECK (amount > 0),
  currency     char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  card_brand   text        NOT NULL,
  card_last4   char(4)     NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_token   text        NOT NULL CHECK (card_token ~ '^tok_[0-9a-f]{64}$'),
  description  text,
  created_at   timestamptz NOT NULL
);

-- One row per key. The primary key decides which of two concurrent requests with one key creates the payment:
-- the second one's INSERT waits for the first transaction (bounded by lock_timeout), then sees its row.
-- A key is written in the same statement as its payment, so neither exists without the other.
CREATE TABLE idempotency_keys (
  -- HMAC of the client's Idempotency-Key, never the key itself: the header is free text a caller could fill with
  -- card data, and nothing a caller types is stored as it was typed.
  key           text        PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
  -- HMAC of the canonical request body (never the body, which holds the PAN).
  fingerprint   text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  payment_id    text        NOT NULL REFERENCES payments (id),
  first_used_at timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL
);

-- The expiry sweep deletes the oldest expired keys in batches.
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

GRANT SELECT, INSERT ON payments TO payment_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO payment_service;
-- The service checks at start that the schema is recent enough for it.
GRANT SELECT ON schema_migrations TO payment_service;
