import { Acknowledgment, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { compliancePacks, listAcknowledgements } from './packs';

/** Ids of the four packs' rules, e.g. `PCI.DSS.321-S3BucketReplicationEnabled`, `AwsSolutions-IAM5[...]`. */
const NAG_ID = /^(AwsSolutions|PCI\.DSS\.321|PCI\.DSS\.401|NIST\.800\.53\.R5)-/;

/** A finding as `<rule id>` at `<construct path>`. */
export interface Finding {
  readonly id: string;
  readonly path: string;
}

/** Every finding of the three packs under a scope. */
export function findingsOf(scope: IConstruct): Finding[] {
  return compliancePacks().flatMap((pack) =>
    pack.validateScope(scope).violations.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' }))),
  );
}

/**
 * Builds the scope twice, with and without acknowledgements, and returns every acknowledgement that silences no
 * finding (a stale or mistyped one). An acknowledgement covers findings on its construct and below it.
 */
export function staleAcknowledgements(build: () => IConstruct): { path: string; id: string }[] {
  const real = build();
  const acks = listAcknowledgements(real)
    .map((a) => ({ path: a.path, id: a.id.replace(/^Annotation::/, '') }))
    .filter((a) => NAG_ID.test(a.id));
  const original = Validations.prototype.acknowledge;
  // Drop only the cdk-nag acknowledgements; CDK's own (CloudFormation-Validate::...) stay as they are.
  Validations.prototype.acknowledge = function nagAcknowledgementsOff(this: Validations, ...rules: Acknowledgment[]): void {
    const kept = rules.filter((r) => !NAG_ID.test(r.id));
    if (kept.length > 0) original.apply(this, kept);
  };
  let raw: Finding[];
  try {
    raw = findingsOf(build());
  } finally {
    Validations.prototype.acknowledge = original;
  }
  return acks.filter((a) => !raw.some((f) => f.id === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))));
}
