/**
 * Blue and green share one database, and a migration is applied before the new revision takes traffic, while the
 * previous revision still serves (and may serve again after a rollback, which does not undo migrations). So a
 * migration may only expand: add tables, columns that are nullable or have a default, indexes, grants. A statement
 * that breaks the revision still serving (any drop, rename, move or change of owner, type change, new NOT NULL or
 * constraint, row level security, removing rows, revoking) belongs to a
 * "contract" migration, released only after no deployed revision uses what it removes; such a file must say so in a
 * first-line comment `-- contract: <why nothing serving uses it any more>`.
 */

export interface MigrationRuleViolation {
  /** 1-based line of the statement's start. */
  readonly line: number;
  readonly rule: string;
}

/**
 * Statements that break a revision still serving, with the reason shown to the author. Constraints and unique indexes
 * for a new table belong in its CREATE TABLE (not matched here); added to an existing table they can refuse the serving
 * revision's writes (NOT VALID skips only the rows already there).
 */
const BREAKING: readonly { readonly rule: string; readonly pattern: RegExp }[] = [
  {
    rule: 'DROP removes what the serving revision may use (a table, column, index, constraint, default, role, its grants, ...)',
    pattern: /\bDROP\b/i,
  },
  { rule: 'RENAME breaks every statement of the serving revision that uses the old name', pattern: /\bRENAME\b/i },
  { rule: 'SET SCHEMA moves an object away from the name the serving revision uses', pattern: /\bSET\s+SCHEMA\b/i },
  { rule: 'OWNER TO changes who owns an object, and with it who may use it', pattern: /\bOWNER\s+TO\b/i },
  {
    rule: 'ALTER COLUMN ... TYPE rewrites the table and can break the serving revision',
    // eslint-disable-next-line security/detect-unsafe-regex -- run only on the repository's own migration files, never on request input
    pattern: /\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b/i,
  },
  { rule: 'SET NOT NULL fails the serving revision where it writes no value', pattern: /\bSET\s+NOT\s+NULL\b/i },
  {
    rule: 'ADD COLUMN ... NOT NULL without DEFAULT fails the serving revision, which does not write it',
    // eslint-disable-next-line security/detect-unsafe-regex -- run only on the repository's own migration files, never on request input
    pattern: /\bADD\s+(COLUMN\s+)?(?![^,;]*\bDEFAULT\b)[^,;]*\bNOT\s+NULL\b/i,
  },
  {
    rule: "ADD CONSTRAINT (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY, EXCLUDE) on an existing table can refuse the serving revision's writes",
    pattern: /\bADD\s+(CONSTRAINT|CHECK|UNIQUE|PRIMARY\s+KEY|FOREIGN\s+KEY|EXCLUDE)\b/i,
  },
  {
    rule: "CREATE UNIQUE INDEX on an existing table can refuse the serving revision's writes",
    pattern: /\bCREATE\s+UNIQUE\s+INDEX\b/i,
  },
  {
    rule: 'ENABLE/FORCE ROW LEVEL SECURITY hides every row from the serving revision until a policy admits it',
    pattern: /\b(ENABLE|FORCE)\s+ROW\s+LEVEL\s+SECURITY\b/i,
  },
  { rule: 'TRUNCATE or DELETE removes rows the serving revision may read', pattern: /\b(TRUNCATE|DELETE\s+FROM)\b/i },
  { rule: 'REVOKE takes away a privilege the serving revision uses', pattern: /\bREVOKE\b/i },
];

/** `-- contract: <reason>` on the first line marks a file as a deliberate contract step. */
export const CONTRACT_MARKER = /^--\s*contract:\s*\S.{10,}$/;

/** Characters of an identifier: a `$` or a quote right after one does not start a dollar quote or an E'' string. */
const IDENTIFIER_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
/** The opening delimiter of a dollar-quoted string: `$$` or `$tag$`. */
// eslint-disable-next-line security/detect-unsafe-regex -- run only on the repository's own migration files, never on request input
const DOLLAR_QUOTE = /\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

function blank(text: string): string {
  return text.replace(/[^\n]/g, ' ');
}

/**
 * The SQL as PostgreSQL's lexer splits it, same length and lines: comments (`--`, nested `/* *\/`) and string
 * literals ('...' with '' escapes, E'...' with backslash escapes too) blanked, so words inside them are not taken for
 * SQL; quoted identifiers kept as a word of underscores. Dollar-quoted bodies (DO blocks, functions) are code that
 * runs: only their delimiters are blanked, the body is scanned the same way, and string literals inside it are kept,
 * since that is where dynamic SQL (EXECUTE '...') lives.
 */
function codeOnly(sql: string, inBody = false): string {
  let out = '';
  let i = 0;
  const prev = (): string => (i > 0 ? (sql[i - 1] as string) : ' ');
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += blank(sql.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '*') {
      let depth = 0;
      let j = i;
      while (j < sql.length) {
        if (sql.startsWith('/*', j)) {
          depth += 1;
          j += 2;
        } else if (sql.startsWith('*/', j)) {
          depth -= 1;
          j += 2;
          if (depth === 0) break;
        } else j += 1;
      }
      out += blank(sql.slice(i, j));
      i = j;
    } else if (c === "'" || ((c === 'E' || c === 'e') && next === "'" && !IDENTIFIER_CHAR.test(prev()))) {
      const escapes = c !== "'";
      let j = escapes ? i + 2 : i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j += 1;
      }
      j = Math.min(j + 1, sql.length);
      const literal = sql.slice(i, j);
      out += inBody ? literal.replace(/'/g, ' ') : blank(literal);
      i = j;
    } else if (c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      j = Math.min(j + 1, sql.length);
      out += sql.slice(i, j).replace(/[^\n]/g, '_');
      i = j;
    } else if (c === '$' && !IDENTIFIER_CHAR.test(prev())) {
      DOLLAR_QUOTE.lastIndex = i;
      const open = DOLLAR_QUOTE.exec(sql);
      if (!open) {
        out += c;
        i += 1;
        continue;
      }
      const delimiter = open[0];
      const bodyStart = i + delimiter.length;
      const close = sql.indexOf(delimiter, bodyStart);
      const bodyEnd = close === -1 ? sql.length : close;
      out +=
        blank(delimiter) + codeOnly(sql.slice(bodyStart, bodyEnd), true) + blank(sql.slice(bodyEnd, bodyEnd + (close === -1 ? 0 : delimiter.length)));
      i = close === -1 ? sql.length : close + delimiter.length;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
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
