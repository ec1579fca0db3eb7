import * as fs from 'fs';
import * as path from 'path';

// The README and docs/ are what an engineer follows under pressure and what an assessor reads as evidence. A link
// that leads nowhere, an anchor to a heading that was renamed, an `npm run` of a script that does not exist, or a
// runbook nobody can find from the index fails here, not during an incident.

const ROOT = path.join(__dirname, '..');

/** The documents, by repository path (posix), with their text. */
type Docs = ReadonlyMap<string, string>;

/** What a check needs to know about the repository besides the documents themselves. */
interface Repo {
  /** True when the repository path (posix, relative to the root) is a file or a folder. */
  readonly exists: (repoPath: string) => boolean;
  /** The text of a markdown file that is not among the documents (e.g. app/README.md), or undefined. */
  readonly readMarkdown: (repoPath: string) => string | undefined;
  /** The scripts of package.json (root) and of app/package.json (`npm --prefix app run`, `cd app && npm run`). */
  readonly scripts: { readonly root: ReadonlySet<string>; readonly app: ReadonlySet<string> };
}

/** Fenced code blocks (``` or ~~~) become blank lines, so line numbers stay and nothing inside them counts as a link. */
function withoutCodeBlocks(text: string): string {
  let fence: string | undefined;
  return text
    .split('\n')
    .map((line) => {
      const open = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
      if (fence === undefined && open) {
        fence = open[1]!;
        return '';
      }
      if (fence !== undefined) {
        if (line.trim().startsWith(fence[0]!.repeat(fence.length)) && line.trim().replace(/[`~]/g, '') === '') fence = undefined;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** Inline code spans removed (a `[x](y)` shown as code is not a link). */
const withoutCodeSpans = (line: string): string => line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (m) => ' '.repeat(m.length));

/**
 * GitHub's anchor of a heading: the rendered text, lower-cased, every character that is not a letter, digit, space,
 * hyphen or underscore removed, each space turned into a hyphen (not collapsed); repeats get -1, -2, ...
 */
function slugOf(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`/g, '')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|\W)[*_](.+?)[*_](?=\W|$)/g, '$1$2');
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a markdown text offers: its ATX headings (outside code), with GitHub's numbering of repeats, and HTML ids. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  const prose = withoutCodeBlocks(text);
  for (const line of prose.split('\n')) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slugOf(heading[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!);
  }
  return anchors;
}

/** The link targets of a markdown text, outside code: inline links and images, and reference definitions. */
function linksOf(text: string): { readonly line: number; readonly target: string }[] {
  const links: { line: number; target: string }[] = [];
  withoutCodeBlocks(text)
    .split('\n')
    .forEach((raw, i) => {
      const line = withoutCodeSpans(raw);
      for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1]! });
      const def = /^\s{0,3}\[[^\]]+\]:\s+<?([^\s>]+)>?/.exec(line);
      if (def) links.push({ line: i + 1, target: def[1]! });
    });
  return links;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** Every relative link or anchor in the documents that does not resolve, as `<file>:<line>: <target>: <why>`. */
function brokenLinks(docs: Docs, repo: Repo): string[] {
  const broken: string[] = [];
  const markdownOf = (repoPath: string): string | undefined => docs.get(repoPath) ?? repo.readMarkdown(repoPath);
  for (const [file, text] of docs) {
    for (const { line, target } of linksOf(text)) {
      if (isExternal(target)) continue;
      const hash = target.indexOf('#');
      const filePart = decodeURIComponent(hash >= 0 ? target.slice(0, hash) : target);
      const anchor = hash >= 0 ? decodeURIComponent(target.slice(hash + 1)) : undefined;
      const resolved = filePart === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), filePart)).replace(/\/$/, '');
      const where = `${file}:${line}: ${target}`;
      if (resolved.startsWith('..')) {
        broken.push(`${where}: leaves the repository`);
        continue;
      }
      if (!docs.has(resolved) && !repo.exists(resolved)) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined || anchor === '' || !resolved.endsWith('.md')) continue;
      const targetText = markdownOf(resolved);
      if (targetText !== undefined && !anchorsOf(targetText).has(anchor.toLowerCase())) broken.push(`${where}: no heading with this anchor`);
    }
  }
  return broken;
}

/** Every `npm run <script>` in the documents (code included) that package.json does not have, as `<file>: <command>`. */
function unknownScripts(docs: Docs, repo: Repo): string[] {
  const unknown: string[] = [];
  const mention = /(cd app\s*&&\s*)?npm (?:--prefix (\S+) )?run(?: (?:-s|--silent))? ([A-Za-z][\w:.-]*)/g;
  for (const [file, text] of docs) {
    for (const m of text.matchAll(mention)) {
      const inApp = m[1] !== undefined || (m[2] !== undefined && m[2].replace(/\/$/, '') === 'app');
      if (m[2] !== undefined && !inApp) {
        unknown.push(`${file}: ${m[0]} (unknown package folder)`);
        continue;
      }
      const script = m[3]!;
      if (!(inApp ? repo.scripts.app : repo.scripts.root).has(script)) unknown.push(`${file}: ${m[0].trim()}`);
    }
  }
  return [...new Set(unknown)];
}

/** Every runbook in docs/runbooks/ that docs/runbooks/README.md does not link to. */
function unlistedRunbooks(docs: Docs): string[] {
  const INDEX = 'docs/runbooks/README.md';
  const index = docs.get(INDEX);
  const runbooks = [...docs.keys()].filter((f) => /^docs\/runbooks\/[^/]+\.md$/.test(f) && f !== INDEX);
  if (index === undefined) return runbooks;
  const listed = new Set(
    linksOf(index)
      .filter(({ target }) => !isExternal(target))
      .map(({ target }) => path.posix.join('docs/runbooks', target.split('#')[0]!)),
  );
  return runbooks.filter((r) => !listed.has(r)).sort();
}

// ---------------------------------------------------------------------------------------------------------------------
// The repository as it is

const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');

function markdownUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? markdownUnder(`${dir}/${e.name}`) : e.name.endsWith('.md') ? [`${dir}/${e.name}`] : []));
}

const scriptsOf = (file: string): Set<string> => new Set(Object.keys((JSON.parse(read(file)) as { scripts: Record<string, string> }).scripts));

const repo: Repo = {
  exists: (p) => fs.existsSync(path.join(ROOT, p)),
  readMarkdown: (p) => (fs.existsSync(path.join(ROOT, p)) && fs.statSync(path.join(ROOT, p)).isFile() ? read(p) : undefined),
  scripts: { root: scriptsOf('package.json'), app: scriptsOf('app/package.json') },
};
const docs: Docs = new Map(['README.md', ...markdownUnder('docs')].map((f) => [f, read(f)]));

describe('README.md and docs/ as they are', () => {
  test('every relative link and anchor resolves', () => {
    expect(brokenLinks(docs, repo)).toEqual([]);
  });

  test('every `npm run` script they mention exists', () => {
    expect(unknownScripts(docs, repo)).toEqual([]);
  });

  test('docs/runbooks/README.md lists every runbook', () => {
    expect(docs.has('docs/runbooks/README.md')).toBe(true);
    expect(unlistedRunbooks(docs)).toEqual([]);
  });

  test('every Critical alarm of the alarm table is named in the runbook the table links it to', () => {
    // GIVEN the generated table of docs/operations.md: name, severity, ..., runbook link.
    const rows = [...read('docs/operations.md').matchAll(/^\| `([^`]+-Critical)` +\| Critical[^|]*\|.*\]\(([^)#]+)(?:#[^)]*)?\) *\|$/gm)];
    expect(rows.length).toBeGreaterThan(0);
    // THEN the runbook the on-call lands on names the alarm, so a search for the name in the page finds what to do.
    const missing = rows.filter((m) => !read(path.posix.join('docs', m[2]!)).includes(m[1]!)).map((m) => `${m[1]} -> docs/${m[2]}`);
    expect(missing).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// The checks bite: small in-memory inputs

const memoryRepo = (files: Record<string, string>, scripts: string[] = [], appScripts: string[] = []): [Docs, Repo] => {
  const docsOf: Docs = new Map(Object.entries(files).filter(([f]) => f.endsWith('.md')));
  return [
    docsOf,
    {
      exists: (p) => p in files || Object.keys(files).some((f) => f.startsWith(`${p}/`)),
      readMarkdown: (p) => files[p],
      scripts: { root: new Set(scripts), app: new Set(appScripts) },
    },
  ];
};

describe('slugOf follows GitHub', () => {
  test.each([
    ['The traps, answered', 'the-traps-answered'],
    ['10. The first pipeline run', '10-the-first-pipeline-run'],
    ['Egress: who talks to what, on which port and why', 'egress-who-talks-to-what-on-which-port-and-why'],
    ['`npm run deploy:infra` and **break-glass**', 'npm-run-deployinfra-and-break-glass'],
    ['A failed rollback (UPDATE_ROLLBACK_FAILED)', 'a-failed-rollback-update_rollback_failed'],
    ['Automated review of the audit trail (PCI DSS v4.0.1 10.4.1.1)', 'automated-review-of-the-audit-trail-pci-dss-v401-10411'],
    ['"Planned when ... was ...": the image moved', 'planned-when--was--the-image-moved'],
    ['See [rollback](rollback.md)', 'see-rollback'],
  ])('%s -> %s', (heading, slug) => {
    expect(slugOf(heading)).toBe(slug);
  });

  test('repeated headings get -1, -2; headings inside code blocks are not headings', () => {
    expect([...anchorsOf('# Steps\n## Check\n## Check\n```sh\n# Check\n```\n## Check\n')]).toEqual(['steps', 'check', 'check-1', 'check-2']);
  });
});

describe('brokenLinks', () => {
  const files = {
    'README.md': '# Title\n\n## For a new engineer\n',
    'docs/runbooks/a.md': '# A\n\n## Roll back by hand\n',
    'docs/x.svg': '<svg/>',
    'lib/stack.ts': '',
  };

  test('GIVEN links that resolve THEN nothing is reported', () => {
    const [docsOf, r] = memoryRepo({
      ...files,
      'docs/ok.md': [
        '[readme](../README.md#for-a-new-engineer) [runbook](runbooks/a.md#roll-back-by-hand) [folder](runbooks/)',
        '![diagram](x.svg) [code](../lib/stack.ts#L3) [self](#ok) [web](https://docs.aws.amazon.com/x#y)',
        '# OK',
        '`[not a link](nowhere.md)`',
        '```md\n[not a link](nowhere.md)\n```',
      ].join('\n'),
    });
    expect(brokenLinks(docsOf, r)).toEqual([]);
  });

  test('GIVEN a link to a file that does not exist THEN it is named with its line', () => {
    const [docsOf, r] = memoryRepo({ ...files, 'docs/bad.md': '# Bad\n\nSee [the runbook](runbooks/missing.md).\n' });
    expect(brokenLinks(docsOf, r)).toEqual(['docs/bad.md:3: runbooks/missing.md: no such file']);
  });

  test('GIVEN an anchor no heading has (in another file, or in the same file) THEN both are named', () => {
    const [docsOf, r] = memoryRepo({
      ...files,
      'docs/bad.md': '# Bad\n[a](runbooks/a.md#rollback-by-hand)\n[b](#good)\n[c](runbooks/a.md#roll-back-by-hand)\n',
    });
    expect(brokenLinks(docsOf, r)).toEqual([
      'docs/bad.md:2: runbooks/a.md#rollback-by-hand: no heading with this anchor',
      'docs/bad.md:3: #good: no heading with this anchor',
    ]);
  });

  test('GIVEN a link out of the repository THEN it is refused', () => {
    const [docsOf, r] = memoryRepo({ 'README.md': '[x](../other/README.md)\n' });
    expect(brokenLinks(docsOf, r)).toEqual(['README.md:1: ../other/README.md: leaves the repository']);
  });
});

describe('unknownScripts', () => {
  test('GIVEN scripts of the root and of app/ THEN only the unknown one is named', () => {
    const [docsOf, r] = memoryRepo(
      {
        'README.md': [
          '`npm run preflight -- prod`, `npm run -s timings`',
          '```sh\nnpm run deploy:recovery -- dev\n```',
          '`cd app && npm run test:matrix`, `npm --prefix app run bench`, `npm test`',
        ].join('\n'),
      },
      ['preflight', 'timings'],
      ['test:matrix', 'bench'],
    );
    expect(unknownScripts(docsOf, r)).toEqual(['README.md: npm run deploy:recovery']);
  });

  test('GIVEN an app script run at the root THEN it is named', () => {
    const [docsOf, r] = memoryRepo({ 'docs/p.md': '`npm run test:matrix`' }, ['preflight'], ['test:matrix']);
    expect(unknownScripts(docsOf, r)).toEqual(['docs/p.md: npm run test:matrix']);
  });
});

describe('unlistedRunbooks', () => {
  test('GIVEN an index that misses one runbook THEN that one is named', () => {
    const [docsOf] = memoryRepo({
      'docs/runbooks/README.md': '| [Rollback](rollback.md) | a bad release |\n| [Alarms](alarms.md#capacity) | paged |\n',
      'docs/runbooks/rollback.md': '# R',
      'docs/runbooks/alarms.md': '# A',
      'docs/runbooks/break-glass-access.md': '# B',
    });
    expect(unlistedRunbooks(docsOf)).toEqual(['docs/runbooks/break-glass-access.md']);
  });

  test('GIVEN no index THEN every runbook is unlisted', () => {
    const [docsOf] = memoryRepo({ 'docs/runbooks/rollback.md': '# R' });
    expect(unlistedRunbooks(docsOf)).toEqual(['docs/runbooks/rollback.md']);
  });
});
