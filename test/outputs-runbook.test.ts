import * as fs from 'fs';
import * as path from 'path';
import { ENVS, synthEnv } from './helpers';

// The runbooks are followed by people under pressure: every npm script, file, -c flag and stack output they name must
// exist, or the step fails at the worst moment. This reads them as text and checks each name against the repository
// and the synthesized template.

const ROOT = path.join(__dirname, '..');
const RUNBOOKS_DIR = path.join(ROOT, 'docs', 'runbooks');
const FIRST_DEPLOY = 'first-deploy.md';
const read = (file: string): string => fs.readFileSync(file, 'utf8');
const runbooks = fs
  .readdirSync(RUNBOOKS_DIR)
  .filter((f) => f.endsWith('.md'))
  .map((f) => [f, read(path.join(RUNBOOKS_DIR, f))] as const);
const firstDeploy = read(path.join(RUNBOOKS_DIR, FIRST_DEPLOY));
const pkg = JSON.parse(read(path.join(ROOT, 'package.json'))) as { scripts: Record<string, string>; devDependencies: Record<string, string> };

const matches = (text: string, re: RegExp): string[] => [...text.matchAll(re)].map((m) => m[1]!);
const unique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

/** Output keys a runbook reads: `out Key` (the helper in first-deploy.md) and `OutputKey=='Key'` in a query. */
const outputKeysIn = (text: string): string[] =>
  unique([...matches(text, /\bout ([A-Z][A-Za-z0-9]+)/g), ...matches(text, /OutputKey=='([A-Z][A-Za-z0-9]+)'/g)]);

describe.each(runbooks)('runbook %s names only things that exist', (_file, text) => {
  test('every `npm run` script is in package.json', () => {
    const scripts = unique(matches(text, /npm run (?:--silent )?([a-z][\w:-]*)/g));
    expect(scripts.filter((s) => !(s in pkg.scripts))).toEqual([]);
  });

  test('every file run with `npx tsx` exists', () => {
    const files = unique(matches(text, /npx tsx ([\w./-]+)/g));
    expect(files.filter((f) => !fs.existsSync(path.join(ROOT, f)))).toEqual([]);
  });

  test('every relative link resolves to a file', () => {
    const links = unique(matches(text, /\]\((?!https?:)([^)#]+)(?:#[^)]*)?\)/g));
    expect(links.filter((l) => !fs.existsSync(path.join(RUNBOOKS_DIR, l)))).toEqual([]);
  });

  test('every stack output it reads exists in the template', () => {
    // test/outputs.test.ts pins the same output keys in every environment, so one synthesized template answers for all.
    const keys = outputKeysIn(text);
    const outputs = keys.length > 0 ? Object.keys(synthEnv('dev').template.toJSON().Outputs as Record<string, unknown>) : [];
    expect(keys.filter((k) => !outputs.includes(k))).toEqual([]);
  });
});

describe('the first-deploy runbook', () => {
  test('reads the outputs a first deploy needs', () => {
    // GIVEN the steps: DNS for a brought certificate, the API key, alarms, the first pipeline run and its diagnosis.
    expect(outputKeysIn(firstDeploy)).toEqual(
      expect.arrayContaining([
        'AlarmTopicArn',
        'ApiKeySecretArn',
        'CertificateArn',
        'ClusterName',
        'LoadBalancerDnsName',
        'LoadBalancerHostedZoneId',
        'PipelineName',
        'ServiceLogGroupName',
        'ServiceName',
        'SmokeTestLogGroupName',
        'TestListenerUrl',
      ]),
    );
  });

  test('every repository path it names exists (with <env> as each environment)', () => {
    const paths = unique(matches(firstDeploy, /`((?:config|tools|scripts|lib|bin|docs|test)\/[\w./<>-]+)`/g));
    expect(paths.length).toBeGreaterThan(0);
    const expanded = paths.flatMap((p) => (p.includes('<env>') ? ENVS.map((e) => p.replace('<env>', e)) : [p]));
    expect(expanded.filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual([]);
  });

  test('every `-c` flag it passes is one the app reads', () => {
    const flags = unique(matches(firstDeploy, /-c (\w+)=/g));
    expect(flags).toEqual(['env', 'firstDeploy']);
    const sources = ['bin/tap.ts', 'lib/app.ts', 'lib/compliance/packs.ts'].map((f) => read(path.join(ROOT, f))).join('\n');
    for (const flag of flags) expect({ flag, read: sources.includes(`tryGetContext('${flag}')`) }).toEqual({ flag, read: true });
  });

  test('the seed command is the renamed one, not something to mistake for `cdk bootstrap`', () => {
    expect(firstDeploy).toContain('npm run seed-image -- $ENV');
    expect(firstDeploy).not.toMatch(/npm run bootstrap|tools\/bootstrap/);
  });

  test('the CDK bootstrap versions it states are the ones the template and the pinned CLI have', () => {
    // The template refuses bootstrap versions 1..5: the minimum is the first number not in that list.
    const rules = synthEnv('dev').template.toJSON().Rules as Record<string, { Assertions: { Assert: unknown; AssertDescription: string }[] }>;
    const refused = JSON.stringify(rules.CheckBootstrapVersion!.Assertions[0]!.Assert)
      .match(/"\d+"/g)!
      .map((v) => Number(v.replace(/"/g, '')));
    const minimum = Math.max(...refused) + 1;
    expect(firstDeploy).toContain(`older than version ${minimum} ("CDK bootstrap stack version ${minimum} required")`);

    const cli = pkg.devDependencies['aws-cdk']!;
    expect(firstDeploy).toContain(`(aws-cdk ${cli}, run through \`npx cdk\`)`);
    const templateYaml = read(path.join(ROOT, 'node_modules', 'aws-cdk', 'lib', 'api', 'bootstrap', 'bootstrap-template.yaml'));
    const installed = /BootstrapVersion:[\s\S]*?Value: '(\d+)'/.exec(templateYaml.slice(templateYaml.lastIndexOf('BootstrapVersion:')))![1];
    expect(firstDeploy).toContain(`installs bootstrap template version ${installed}`);
  });

  test('the runbook creates the service-linked roles a fresh account lacks before the first deploy', () => {
    // ECS's CreateCluster creates its role on first use and can fail while it is not yet usable, rolling the whole
    // first create back.
    const deploy = firstDeploy.indexOf('npx cdk deploy -c env=$ENV -c firstDeploy=true');
    expect(deploy).toBeGreaterThan(0);
    const before = firstDeploy.slice(0, deploy);
    const created = [...before.matchAll(/for service in ([^;]+); do\s+aws iam create-service-linked-role --aws-service-name "\$service"/g)].flatMap(
      (m) => m[1]!.trim().split(/\s+/),
    );
    expect(created.sort()).toEqual(['ecs.amazonaws.com']);
    for (const role of ['AWSServiceRoleForECS']) expect(before).toContain(`aws iam get-role --role-name ${role}`);
  });

  test('orders the one-time steps before the first pipeline run that needs them', () => {
    // A connection stays PENDING until completed in the console, the smoke test calls the domain name, and the
    // alarm e-mails must be confirmed: each comes before the run that relies on it.
    const at = (heading: string): number => {
      const i = firstDeploy.indexOf(heading);
      expect({ heading, found: i >= 0 }).toEqual({ heading, found: true });
      return i;
    };
    const run = at('## 10. The first pipeline run');
    for (const before of [
      '## 3. Bootstrap each account for the CDK',
      '## 4. Create and complete the GitHub connection',
      '## 5. The certificate and DNS',
      '## 6. Seed the image parameter',
      '## 7. Deploy the stack with no tasks',
      '## 8. Confirm the alarm e-mails',
    ]) {
      expect({ before, ok: at(before) < run }).toEqual({ before, ok: true });
    }
    expect(firstDeploy).toMatch(/starts in `PENDING` and nothing can use its ARN until a\s+person completes it in the console/);
    expect(firstDeploy).toMatch(/prints\s+`AVAILABLE`/);
  });

  test('states that --trust needs --cloudformation-execution-policies, and what the default execution policy is', () => {
    expect(firstDeploy).toMatch(/`--trust <that account id>`; the CLI then refuses to run without `--cloudformation-execution-policies`/);
    expect(firstDeploy).toMatch(/the CLI gives the CloudFormation\s+execution role `AdministratorAccess`/);
    // And the pinned CLI really behaves so (its bundled source), so a CLI upgrade that changes it fails here.
    const cliSource = read(path.join(ROOT, 'node_modules', 'aws-cdk', 'lib', 'index.js'));
    expect(cliSource).toContain("Please pass '--cloudformation-execution-policies' when using '--trust'");
    expect(cliSource).toMatch(/const implicitPolicy = `arn:\$\{partition\d*\}:iam::aws:policy\/AdministratorAccess`/);
  });

  test('never prints the API key where a pipeline would log it', () => {
    const line = firstDeploy.split('\n').find((l) => l.includes('secretsmanager get-secret-value'))!;
    expect(line).toContain('--secret-id "$(out ApiKeySecretArn)"');
    expect(firstDeploy).toMatch(/never in a pipeline, a CI log/);
  });
});
