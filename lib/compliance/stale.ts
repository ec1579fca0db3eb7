import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { compliancePacks, listAcknowledgements } from './packs';

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
    .filter((a) => /^(AwsSolutions|PCI\.DSS\.321|NIST\.800\.53\.R5)-/.test(a.id));
  const original = Validations.prototype.acknowledge;
  Validations.prototype.acknowledge = function noAcknowledgement(): void {};
  let raw: Finding[];
  try {
    raw = findingsOf(build());
  } finally {
    Validations.prototype.acknowledge = original;
  }
  return acks.filter((a) => !raw.some((f) => f.id === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))));
}
