/**
 * The cluster parameter group's values (docs/aws-contracts.md, "Database"). Everything not listed keeps Aurora's
 * default. The logs go to CloudWatch Logs (`postgresql` export), so what PostgreSQL writes must never hold a card
 * number or a password: no statement text is logged at all.
 */
export const CLUSTER_PARAMETERS: Readonly<Record<string, string>> = {
  // Refuse every connection that is not TLS (Aurora's default, 0, accepts plain TCP). PCI DSS 4.1.
  'rds.force_ssl': '1',
  // Who connected, from where and for how long: authentication and session audit (PCI DSS 10.2.4, 10.2.5).
  log_connections: '1',
  log_disconnections: '1',
  // No statement logging of any kind. `ddl` or `all` would write the text of CREATE/ALTER ROLE ... PASSWORD (the
  // migration task creates the login user; rotation sets passwords), and `mod` would write INSERTs.
  log_statement: 'none',
  // No slow-statement log: it writes the statement with its bind parameters.
  log_min_duration_statement: '-1',
  // A failing statement's text is not written next to its error (the default, `error`, would write it): the
  // rotation functions send passwords inside the SQL text.
  log_min_error_statement: 'panic',
  // Lock waits beyond deadlock_timeout (1 s) are logged without their statements: concurrent idempotent creates wait on
  // each other by design (docs/deployments.md, trap 26), and a pile-up shows here first.
  log_lock_waits: '1',
};
