/**
 * `npm run diagram`: writes the architecture diagram of every environment, generated from its synthesized stacks,
 * to docs/architecture/<env>.dot (Graphviz source) and docs/architecture/<env>.svg (rendered with Graphviz compiled to
 * WebAssembly; `dot -Tsvg` from Debian's graphviz package renders the same .dot files).
 * `--check` only compares and exits 1 naming the stale files; test/diagram.test.ts holds the same check.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PROMOTION_ORDER } from '../lib/config';
import { diagramDot, diagramFiles, diagramInputOf, renderSvg, staleFiles } from './lib/diagram';
import { synthesize } from './lib/synthesized';

const ROOT = path.join(__dirname, '..');

/** Every diagram file as it should be, by path relative to the repository. */
function expectedFiles(): Record<string, string> {
  const dots = PROMOTION_ORDER.map((env) => ({ env, dot: diagramDot(diagramInputOf(synthesize(env))) }));
  const svgs = renderSvg(dots.map((d) => d.dot));
  return Object.fromEntries(
    dots.flatMap(({ env, dot }, i) => {
      const files = diagramFiles(env);
      return [
        [files.dot, dot],
        [files.svg, svgs[i] ?? ''],
      ];
    }),
  );
}

const read = (file: string) => {
  const full = path.join(ROOT, file);
  return fs.existsSync(full) ? fs.readFileSync(full, 'utf8') : undefined;
};

function main(argv: readonly string[]): number {
  const started = Date.now();
  const expected = expectedFiles();
  const stale = staleFiles(expected, read);
  if (argv[0] === '--check') {
    for (const file of Object.keys(expected).sort())
      console.log(`${file}: ${stale.includes(file) ? 'stale; run `npm run diagram` and commit it' : 'up to date'}`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const file of stale) {
    fs.mkdirSync(path.dirname(path.join(ROOT, file)), { recursive: true });
    fs.writeFileSync(path.join(ROOT, file), expected[file] ?? '');
  }
  for (const file of Object.keys(expected).sort()) {
    const size = Buffer.byteLength(expected[file] ?? '');
    console.log(`${file}: ${stale.includes(file) ? 'written' : 'up to date'} (${(size / 1024).toFixed(0)} KB)`);
  }
  console.log(`diagram: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error: unknown) {
  console.error(`diagram: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
