import * as fs from 'fs';
import * as path from 'path';
import { ALARM_RUNBOOKS, runbooksOf } from '../lib/monitoring/runbooks';
import { alarmsOf, alarmTable, ALARM_TABLE_BEGIN, ALARM_TABLE_END, withAlarmTable } from '../lib/monitoring/alarm-table';
import { spawnSync } from 'child_process';
import * as os from 'os';
import { ENVS, synthEnv } from './helpers';

const ROOT = path.join(__dirname, '..');

/** GitHub's anchor of a markdown heading. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

describe('docs/operations.md and the alarm runbooks', () => {
  test('`npm run docs:operations -- --check`: the committed table is what the stacks generate; a stale copy is named and fails', () => {
    const committed = path.join(ROOT, 'docs', 'operations.md');
    const text = fs.readFileSync(committed, 'utf8');
    expect(text).toContain(ALARM_TABLE_BEGIN);
    // A copy whose table lost a row, as after adding an alarm without regenerating.
    const stale = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ops-doc-')), 'operations.md');
    fs.writeFileSync(stale, text.replace(/^\| `Payments-DatabaseErrors-Critical`.*\n/m, ''));
    expect(fs.readFileSync(stale, 'utf8')).not.toBe(text);
    const run = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/operations-doc.ts', '--check', committed, stale], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.stdout.split('\n').filter((l) => l.includes(': '))).toEqual([
      'docs/operations.md: up to date',
      `${path.relative(ROOT, stale)}: stale alarm table; run \`npm run docs:operations\` and commit it`,
    ]);
    expect(run.status).toBe(1);
  }, 240_000);

  test.each(ENVS)('every alarm of %s has exactly one runbook, and it exists', (env) => {
    const { stack, template } = synthEnv(env);
    const alarms = [...alarmsOf(stack.stackName, template.toJSON() as never).keys()];
    expect(alarms.length).toBeGreaterThan(30);
    for (const name of alarms) {
      const runbooks = runbooksOf(name);
      expect({ name, runbooks: runbooks.length }).toEqual({ name, runbooks: 1 });
      const [file, anchor] = runbooks[0]!.split('#');
      const text = fs.readFileSync(path.join(ROOT, file!), 'utf8');
      if (anchor) {
        const anchors = [...text.matchAll(/^#+ (.+)$/gm)].map((m) => anchorOf(m[1]!));
        expect({ name, anchor: anchors.includes(anchor) ? anchor : `missing in ${file}: ${anchor}` }).toEqual({ name, anchor });
      }
    }
  });

  test('every runbook entry is used by some alarm (no stale entries)', () => {
    const names = ENVS.flatMap((env) => {
      const { stack, template } = synthEnv(env);
      return [...alarmsOf(stack.stackName, template.toJSON() as never).keys()];
    });
    for (const entry of ALARM_RUNBOOKS)
      expect({ entry: String(entry.match), used: names.some((n) => entry.match.test(n)) }).toEqual({ entry: String(entry.match), used: true });
  });

  test('the generator refuses an alarm without a runbook, one named outside the stack, and a doc without markers', () => {
    const alarm = (name: string) => ({
      Resources: {
        A: { Type: 'AWS::CloudWatch::Alarm', Properties: { AlarmName: name, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 1 } },
      },
    });
    expect(() => alarmTable([{ env: 'dev', stackName: 'TapStack-dev', template: alarm('TapStack-dev-Mystery-Warning') }])).toThrow(
      'alarm Mystery-Warning has 0 runbooks in lib/monitoring/runbooks.ts, expected 1',
    );
    expect(() => alarmsOf('TapStack-dev', alarm('Other-Waf-Warning'))).toThrow(
      'alarm "Other-Waf-Warning" is not named <TapStack-dev>-...: the topics would refuse it',
    );
    expect(() => withAlarmTable('# no markers', '| table |')).toThrow('docs/operations.md lacks the alarm table markers');
    expect(withAlarmTable(`a\n${ALARM_TABLE_BEGIN}\nold\n${ALARM_TABLE_END}\nb`, '| new |')).toBe(
      `a\n${ALARM_TABLE_BEGIN}\n\n| new |\n\n${ALARM_TABLE_END}\nb`,
    );
  });
});
