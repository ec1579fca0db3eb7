// Cost lines of keys, secrets and the audit trail (scripts/lib/report-cost.ts composes them).
import { arr, count, obj, StackContext } from './report-cost-context';

/** KMS: customer managed keys, and requests in the main region. */
export function kmsLines(ctx: StackContext): void {
  const { stack, isMain, a, add, ofType } = ctx;
  const keys = ofType('AWS::KMS::Key', stack);
  if (keys.length > 0) {
    const covers = ['AWS::KMS::Key'];
    add({
      stack,
      service: 'KMS',
      item: 'Customer managed keys',
      quantity: keys.length,
      unit: 'key-months',
      priceKeys: ['kmsKeyMonth'],
      basis: count(keys.length, 'key'),
      covers,
    });
    if (isMain) {
      add({
        stack,
        service: 'KMS',
        item: 'Requests',
        quantity: a('kmsRequestsPerMonth') / 1e4,
        unit: '10,000 requests',
        priceKeys: ['kms10kRequests'],
        basis: 'assumed kmsRequestsPerMonth',
        covers,
      });
    }
  }
}

/** Secrets Manager: secrets and API calls (the canary reads one each run). */
export function secretsLines(ctx: StackContext, canaryRuns: number): void {
  const { stack, a, add, ofType } = ctx;
  const secrets = ofType('AWS::SecretsManager::Secret', stack).length;
  if (secrets > 0) {
    const covers = ['AWS::SecretsManager::Secret'];
    add({
      stack,
      service: 'Secrets Manager',
      item: 'Secrets',
      quantity: secrets,
      unit: 'secret-months',
      priceKeys: ['secretMonth'],
      basis: count(secrets, 'secret'),
      covers,
    });
    // A replica in another region is billed as a secret of its own.
    const replicas = ofType('AWS::SecretsManager::Secret', stack).flatMap((r) => arr(r.props.ReplicaRegions).map((x) => String(obj(x).Region)));
    if (replicas.length > 0)
      add({
        stack,
        service: 'Secrets Manager',
        item: `Replica secrets (${[...new Set(replicas)].join(', ')})`,
        quantity: replicas.length,
        unit: 'secret-months',
        priceKeys: ['secretMonth'],
        basis: count(replicas.length, 'replica'),
        covers,
      });
    const calls = canaryRuns + a('secretsCallsBase');
    add({
      stack,
      service: 'Secrets Manager',
      item: 'API calls',
      quantity: calls / 1e4,
      unit: '10,000 calls',
      priceKeys: ['secrets10kApiCalls'],
      basis: `one read per canary run (${canaryRuns}) + ${a('secretsCallsBase')}`,
      covers,
    });
  }
}

/** CloudTrail: the first copy of management events is free; data events are billed. */
export function trailLines(ctx: StackContext): void {
  const { stack, a, add, ofType } = ctx;
  for (const trail of ofType('AWS::CloudTrail::Trail', stack)) {
    const selectors = arr(trail.props.AdvancedEventSelectors).map(obj);
    const data = selectors.some((s) => arr(s.FieldSelectors).some((f) => obj(f).Field === 'eventCategory' && arr(obj(f).Equals).includes('Data')));
    add({
      stack,
      service: 'CloudTrail',
      item: 'Data events',
      quantity: data ? a('trailDataEventsPerMonth') / 1e5 : 0,
      unit: '100,000 events',
      priceKeys: ['cloudtrailDataEvents100k'],
      basis: data
        ? 'S3 object events of the audited buckets, assumed trailDataEventsPerMonth; management events: first copy free'
        : 'management events only: first copy free',
      covers: ['AWS::CloudTrail::Trail'],
    });
  }
}
