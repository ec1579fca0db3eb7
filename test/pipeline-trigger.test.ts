import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { TRIGGER_PATHS, triggerFilePaths, UNTRIGGERED_PATHS } from '../lib/pipeline/trigger-paths';

const ROOT = path.join(__dirname, '..');

/**
 * CodePipeline's trigger glob (https://docs.aws.amazon.com/codepipeline/latest/userguide/syntax-glob.html) as a
 * regular expression, for the subset the trigger uses: `**` crosses directories, `*` and `?` do not, `{a,b}` is either.
 */
function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{') out += '(?:';
    else if (c === '}') out += ')';
    else if (c === ',') out += '|';
    else out += c.replace(/[.+^$()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

const triggers = triggerFilePaths().map(globToRegExp);
const starts = (file: string) => triggers.some((re) => re.test(file));
const untriggered = (file: string) => UNTRIGGERED_PATHS.some((u) => (u.path.endsWith('/') ? file.startsWith(u.path) : file === u.path));

/**
 * The repository's tracked files: `git ls-files` in a clone; in CodeBuild, whose source is a ZIP without .git, one
 * probe file per top-level entry that .gitignore does not exclude (so a new folder is caught there too).
 */
function trackedFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    const ignored = fs
      .readFileSync(path.join(ROOT, '.gitignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/\/$/, ''))
      .filter((l) => l && !l.startsWith('#') && !l.includes('/'))
      .map(globToRegExp);
    return fs
      .readdirSync(ROOT, { withFileTypes: true })
      .filter((e) => e.name !== '.git' && !ignored.some((re) => re.test(e.name)))
      .map((e) => (e.isDirectory() ? `${e.name}/probe` : e.name));
  }
}

describe('pipeline trigger paths', () => {
  test('every tracked file either starts the pipeline or sits under a path listed, with its reason, as not starting it', () => {
    // GIVEN every file the repository tracks
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(20);
    // THEN none falls through both lists (a new top-level folder must be put in one of them)
    const neither = files.filter((f) => !starts(f) && !untriggered(f));
    expect(neither).toEqual([]);
    // AND no file is in both, so the two lists never disagree
    expect(files.filter((f) => starts(f) && untriggered(f))).toEqual([]);
  });

  test.each([
    ['security/scan-ignore.json'],
    ['scripts/iac-scan.sh'],
    ['app/src/server.ts'],
    ['app/Dockerfile'],
    ['lib/pipeline/delivery-pipeline.ts'],
    ['config/prod.json'],
    ['tools/deploy/ecs-deploy.ts'],
    ['test/pipeline.test.ts'],
    ['bin/tap.ts'],
    ['package.json'],
    ['package-lock.json'],
    ['cdk.json'],
    ['tsconfig.json'],
    ['requirements-iac.txt'],
    ['.checkov.yaml'],
    ['eslint.security.config.mjs'],
  ])('a change to %s starts the pipeline', (file) => {
    expect(starts(file)).toBe(true);
  });

  test.each([['docs/pipeline.md'], ['docs/runbooks/rollback.md'], ['README.md'], ['.ci/run']])('a change to %s alone does not', (file) => {
    expect(starts(file)).toBe(false);
  });

  test('the patterns fit what CodePipeline accepts: at most 8 per filter, each at most 255 characters, each with its reason', () => {
    expect(TRIGGER_PATHS.length).toBeLessThanOrEqual(8);
    for (const { glob, reason } of TRIGGER_PATHS) {
      expect(glob.length).toBeLessThanOrEqual(255);
      expect(reason.length).toBeGreaterThan(20);
    }
    for (const { reason } of UNTRIGGERED_PATHS) expect(reason.length).toBeGreaterThan(20);
  });
});
