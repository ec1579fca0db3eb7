/**
 * Blue and green share one database, and a migration is applied before the new revision takes traffic, while the
 * previous revision still serves (and may serve again after a rollback, which does not undo migrations). So a
 * migration may only expand: add tables, columns that are nullable or have a default, indexes, grants. A statement
 * that breaks the revision still serving (drop, rename, type change, new NOT NULL, removing rows) belongs to a
 * "contract" migration, released only after no deployed revision uses what it removes; such a file must say so in a
 * first-line comment `-- contract: <why nothing serving uses it any more>`.
 */

export interface MigrationRuleViolation {
  /** 1-based line of the statement's start. */
  readonly line: number;
  readonly rule: string;
}

/** Statements that break a revision still serving, with the reason shown to the author. */
const BREAKING: readonly { readonly rule: string; readonly pattern: RegExp }[] = [
  {
    rule: 'DROP TABLE/VIEW/TYPE/FUNCTION/SCHEMA removes what the serving revision uses',
    pattern: /\bDROP\s+(TABLE|VIEW|MATERIALIZED\s+VIEW|TYPE|FUNCTION|SCHEMA|SEQUENCE)\b/i,
  },
  { rule: 'DROP COLUMN removes a column the serving revision reads or writes', pattern: /\bDROP\s+COLUMN\b/i },
  { rule: 'RENAME breaks every statement of the serving revision that uses the old name', pattern: /\bRENAME\b/i },
  {
    rule: 'ALTER COLUMN ... TYPE rewrites the table and can break the serving revision',
    pattern: /\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b/i,
  },
  { rule: 'SET NOT NULL fails the serving revision where it writes no value', pattern: /\bSET\s+NOT\s+NULL\b/i },
  {
    rule: 'ADD COLUMN ... NOT NULL without DEFAULT fails the serving revision, which does not write it',
    pattern: /\bADD\s+(COLUMN\s+)?(?![^,;]*\bDEFAULT\b)[^,;]*\bNOT\s+NULL\b/i,
  },
  { rule: 'TRUNCATE or DELETE removes rows the serving revision may read', pattern: /\b(TRUNCATE|DELETE\s+FROM)\b/i },
  { rule: 'REVOKE takes away a privilege the serving revision uses', pattern: /\bREVOKE\b/i },
];

/** `-- contract: <reason>` on the first line marks a file as a deliberate contract step. */
export const CONTRACT_MARKER = /^--\s*contract:\s*\S.{10,}$/;

/** Comments and string literals blanked out (line structure kept), so words inside them are not taken for SQL. */
function codeOnly(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^']|'')*'|\$\$[\s\S]*?\$\$/g, (m) => m.replace(/[^\n]/g, ' '));
}

/** The breaking statements of one migration file; empty for an expand-only file or a marked contract file. */
export function breakingStatements(sql: string): MigrationRuleViolation[] {
  if (CONTRACT_MARKER.test(sql.split('\n', 1)[0] ?? '')) return [];
  const code = codeOnly(sql);
  const violations: MigrationRuleViolation[] = [];
  let offset = 0;
  for (const statement of code.split(';')) {
    for (const { rule, pattern } of BREAKING) {
      if (pattern.test(statement)) {
        const leading = statement.length - statement.trimStart().length;
        violations.push({ line: code.slice(0, offset + leading).split('\n').length, rule });
      }
    }
    offset += statement.length + 1;
  }
  return violations;
}
