import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { fixedNameRemovalPolicyOf, removalPolicyOf } from '../lib/common/removal';
import { EnvironmentConfig, EnvironmentName } from '../lib/config';
import { CDK_CONTEXT, ENVS, FIXED_LOG_GROUP_NAME, shippedConfigs, synthEnv, writeConfigDir } from './helpers';

type Resource = { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

/** What this app keeps or deletes according to `removal` in the config. */
const CONFIGURED = ['AWS::KMS::Key', 'AWS::Logs::LogGroup', 'AWS::ECR::Repository', 'AWS::SecretsManager::Secret'];
const KEPT = ['Retain', 'Retain'];
const KEPT_EXCEPT_ON_CREATE = ['RetainExceptOnCreate', 'Retain'];
const DELETED = ['Delete', 'Delete'];

const resourcesOf = (env: (typeof ENVS)[number]) => synthEnv(env).template.toJSON().Resources as Record<string, Resource>;
const policies = (r: Resource) => [r.DeletionPolicy, r.UpdateReplacePolicy];
/**
 * The resources whose names are fixed (the repository, and the log groups another service writes to by name: WAF's,
 * RDS's, the rotation functions'): one left over from a rolled-back create fails the retry with "already exists".
 */
const hasFixedName = (r: Resource) =>
  r.Type === 'AWS::ECR::Repository' || (r.Type === 'AWS::Logs::LogGroup' && FIXED_LOG_GROUP_NAME.test(String(r.Properties?.LogGroupName ?? '')));

describe('removal policy from config', () => {
  test('retain keeps a generated-name resource always, even when its first create rolls back (evidence of the failure)', () => {
    expect(removalPolicyOf('retain')).toBe(RemovalPolicy.RETAIN);
    expect(removalPolicyOf('destroy')).toBe(RemovalPolicy.DESTROY);
  });

  test('retain keeps a fixed-name resource except when its own creation rolls back', () => {
    expect(fixedNameRemovalPolicyOf('retain')).toBe(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
    expect(fixedNameRemovalPolicyOf('destroy')).toBe(RemovalPolicy.DESTROY);
  });
});

/** The removal checks of one environment's template against the removal settings it was built with. */
function removalFollowsConfig(env: EnvironmentName, removal: EnvironmentConfig['removal'], resources: Record<string, Resource>): void {
  test('the fixed-name ECR repository and WAF log group are deleted with a rolled-back create and kept otherwise', () => {
    const expected = (what: 'retain' | 'destroy') => (what === 'retain' ? KEPT_EXCEPT_ON_CREATE : DELETED);
    const repositories = Object.values(resources).filter((r) => r.Type === 'AWS::ECR::Repository');
    expect(repositories.map((r) => [r.Properties!.RepositoryName, ...policies(r)])).toEqual([
      [`tap/${env}/payment-service`, ...expected(removal.artifacts)],
    ]);
    // The pipeline the stack creates starts a run at once and may push before a create fails: the delete of a rolled-back
    // create must go through with images inside (a stack deletion with retain never deletes it at all).
    expect(repositories.map((r) => r.Properties!.EmptyOnDelete)).toEqual([true]);
    const named = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup' && hasFixedName(r));
    expect(named.map((r) => [r.Properties!.LogGroupName, ...policies(r)]).sort()).toEqual(
      [
        `aws-waf-logs-TapStack-${env}`,
        `/aws/rds/cluster/tapstack-${env}-payments/postgresql`,
        `/aws/lambda/TapStack-${env}-db-master-rotation`,
        `/aws/lambda/TapStack-${env}-db-app-user-rotation`,
        `/aws/vendedlogs/route53resolver/TapStack-${env}`,
      ]
        .map((name) => [name, ...expected(removal.logs)])
        .sort(),
    );
  });

  test('every other key, log group and secret follows its removal setting: deleted, or plainly kept (a failed create keeps its evidence)', () => {
    // Keys and secrets follow removal.keys (a secret is useless without its key), log groups removal.logs.
    const setting = (r: Resource) => (r.Type === 'AWS::Logs::LogGroup' ? removal.logs : removal.keys);
    const others = Object.entries(resources).filter(([, r]) => CONFIGURED.includes(r.Type) && !hasFixedName(r));
    expect(others.length).toBeGreaterThanOrEqual(10);
    const table = others.map(([id, r]) => ({ id, policies: policies(r) }));
    expect(table).toEqual(others.map(([id, r]) => ({ id, policies: setting(r) === 'retain' ? KEPT : DELETED })));
  });

  // S3 deletes no bucket that holds an object, and every bucket here gets objects at once (the ALB's test object,
  // CloudTrail files, access logs): Delete or RetainExceptOnCreate would end a rolled-back create in ROLLBACK_FAILED.
  test('every bucket is plainly retained whatever the config says: a rollback never tries to delete a non-empty one', () => {
    const buckets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    // The audit trail's, the access logs', the artifacts' and the synthetic check's artifacts.
    expect(buckets.length).toBe(4);
    for (const [id, r] of buckets) expect({ id, policies: policies(r) }).toEqual({ id, policies: KEPT });
  });
}

describe.each(ENVS)('what a failed first deployment of %s leaves behind', (env) => {
  removalFollowsConfig(env, shippedConfigs()[env].removal, resourcesOf(env));
});

// The shipped configs set logs and keys alike, and artifacts like one of them: here each setting differs from another
// in one variant or the other, so a resource that follows the wrong setting fails.
describe.each<EnvironmentConfig['removal']>([
  { logs: 'retain', artifacts: 'retain', keys: 'destroy' },
  { logs: 'retain', artifacts: 'destroy', keys: 'retain' },
])('dev with removal %j: each resource follows its own setting', (removal) => {
  const configs = shippedConfigs();
  configs.dev.removal = removal;
  const app = new App({ context: { ...CDK_CONTEXT, env: 'dev' }, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'tap-synth-')) });
  const stack = buildApp(app, { configDir: writeConfigDir(configs) });
  removalFollowsConfig('dev', removal, Template.fromStack(stack).toJSON().Resources as Record<string, Resource>);
});

describe('prod', () => {
  test('keeps every key, log group, repository and secret on stack deletion, update and replacement', () => {
    const configured = Object.entries(resourcesOf('prod')).filter(([, r]) => CONFIGURED.includes(r.Type));
    expect(configured.length).toBeGreaterThanOrEqual(12);
    for (const [id, r] of configured) expect({ id, policies: policies(r) }).toEqual({ id, policies: hasFixedName(r) ? KEPT_EXCEPT_ON_CREATE : KEPT });
  });
});
