import { App, IPolicyValidationPlugin, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { PCIDSS401Checks } from './pci-dss-v401';

/**
 * The rule packs every environment must pass with zero unacknowledged findings: cdk-nag's AwsSolutions, PCI DSS 3.2.1
 * and NIST 800-53 rev 5, and this repository's PCI DSS v4.0.1 checks (the standard assessed; cdk-nag ships no pack for it).
 */
export function compliancePacks(scope?: IConstruct): NagPack[] {
  return [new AwsSolutionsChecks(scope), new PCIDSS321Checks(scope), new NIST80053R5Checks(scope), new PCIDSS401Checks(scope)];
}

/**
 * Registers the packs as CDK policy-validation plugins, so `cdk synth` itself fails on a new finding.
 * `-c nag=false` skips them for a quick look; the compliance test and CI never skip.
 */
export function addCompliancePacks(app: App): void {
  if (app.node.tryGetContext('nag') === 'false') return;
  Validations.of(app).addPlugins(...(compliancePacks(app) as IPolicyValidationPlugin[]));
}

/** One acknowledged finding, as recorded on the construct tree by `Validations.of(c).acknowledge()`. */
export interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgement under a scope: the audit list that CI prints. */
export function listAcknowledgements(scope: IConstruct): Acknowledgement[] {
  const found: Acknowledgement[] = [];
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) found.push({ path: c.node.path, id, reason });
    }
  }
  return found;
}
