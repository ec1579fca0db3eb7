// Prints every unacknowledged cdk-nag finding per pack (AwsSolutions, PCI DSS 3.2.1, NIST 800-53 rev 5, PCI DSS v4.0.1)
// per environment over every stack of its app, and the acknowledgements; exits 1 on any finding.
// Stale acknowledgements are gated by test/compliance.test.ts (run by the same IaC-Check step).
import { App } from 'aws-cdk-lib';
import * as fs from 'fs';
import * as path from 'path';
import { buildApp } from '../lib/app';
import { compliancePacks, listAcknowledgements } from '../lib/compliance/packs';
import { ENVIRONMENT_NAMES } from '../lib/config';

const context = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context as Record<string, unknown>;
let total = 0;
for (const env of ENVIRONMENT_NAMES) {
  const app = new App({ context: { ...context, env }, outdir: fs.mkdtempSync('/tmp/nag-') });
  buildApp(app);
  // Synthesize first: some constructs (roles ECS needs, for one) are only created during synthesis.
  app.synth();
  for (const pack of compliancePacks()) {
    // The whole app: the main stack and the recovery stack, as the synth's policy-validation plugins check them.
    const report = pack.validateScope(app);
    const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`));
    total += findings.length;
    console.log(`cdk-nag ${env} ${pack.readPackName}: ${findings.length} unacknowledged finding(s)`);
    if (process.argv.includes('-v')) findings.forEach((f) => console.log(`    ${f}`));
  }
  const acks = listAcknowledgements(app).filter((a) => !a.id.startsWith('CloudFormation-Validate::'));
  console.log(`cdk-nag ${env}: ${acks.length} acknowledgement(s), each on the construct concerned with its reason`);
  if (process.argv.includes('--acks')) acks.forEach((a) => console.log(`  ack ${a.path} ${a.id.replace(/^Annotation::/, '')}: ${a.reason}`));
}
// exitCode, not process.exit(): exiting at once drops output still queued for a pipe, which lost the staging and prod
// lines of this report from CI's log once the acknowledgement list grew.
process.exitCode = total > 0 ? 1 : 0;
