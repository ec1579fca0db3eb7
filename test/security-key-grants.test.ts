import { ENVS, synthEnv } from './helpers';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Principal?: unknown; Condition?: Record<string, unknown> };

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe.each(ENVS)('KMS grants in %s', (env) => {
  const { template } = synthEnv(env);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const dataKeyId = ofType('AWS::KMS::Key').find(([id]) => id.startsWith('KeysDataKey'))![0];
  const secretIds = ofType('AWS::SecretsManager::Secret').map(([id]) => id);

  test('no key policy names a principal created in this stack (KMS refuses principals it cannot see yet)', () => {
    const named = ofType('AWS::KMS::Key').flatMap(([id, key]) =>
      ((key.Properties.KeyPolicy as { Statement: Statement[] }).Statement ?? [])
        .filter((s) => /"(Fn::GetAtt|Ref)"/.test(JSON.stringify(s.Principal ?? {}).replace(/"Ref":"AWS::(AccountId|Partition)"/g, '')))
        .map((s) => `${id}: ${JSON.stringify(s.Principal)}`),
    );
    expect(named).toEqual([]);
  });

  test('the secrets are encrypted with the data key', () => {
    // API key, tokenization key, database master user, database app user.
    expect(secretIds).toHaveLength(4);
    for (const id of secretIds) expect(resources[id]!.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [dataKeyId, 'Arn'] });
  });

  test('every role that reads a secret may decrypt the data key, only through Secrets Manager', () => {
    const policies = ofType('AWS::IAM::Policy');
    const readers = policies.filter(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some(
        (s) => asArray(s.Action).includes('secretsmanager:GetSecretValue') && secretIds.some((id) => JSON.stringify(s.Resource).includes(id)),
      ),
    );
    // The task's execution role (ECS secrets), the service and migration task roles (the database secrets they read
    // themselves), the smoke-test hook, the production smoke step and the synthetic check (the API key, read at each
    // run). The rotation functions' roles are the
    // AWS::SecretsManager transform's, outside this template.
    expect(readers.map(([id]) => id.replace(/DefaultPolicy.*/, '')).sort()).toEqual(
      [
        'DeliverySmokeProductionProjectRole',
        'MigrationTaskDefinitionTaskRole',
        'PaymentServiceSmokeTestFunctionServiceRole',
        'PaymentServiceTaskDefinitionExecutionRole',
        'PaymentServiceTaskDefinitionTaskRole',
        'SmokeCanaryRole',
      ].sort(),
    );
    for (const [id, p] of readers) {
      const decrypt = (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.filter(
        (s) => asArray(s.Action).includes('kms:Decrypt') && JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [dataKeyId, 'Arn'] }),
      );
      expect({ id, decrypt }).toEqual({
        id,
        decrypt: [
          expect.objectContaining({ Effect: 'Allow', Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } } }),
        ],
      });
    }
  });
});
