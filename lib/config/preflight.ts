import { EnvironmentConfig } from './schema';

const EXAMPLE_ACCOUNTS = new Set(['000000000000', '111111111111', '222222222222', '333333333333', '123456789012']);
const EXAMPLE_DOMAIN = /(^|\.)example\.(com|org|net)$/;
const ZERO_UUID = /0{8}-0{4}-0{4}-0{4}-0{12}/;

/**
 * Lists every field that still holds one of the shipped example values. `cdk synth` works with them;
 * anything that would deploy (bin/tap.ts with credentials, `npm run preflight`) refuses them.
 */
export function findExampleValues(c: EnvironmentConfig): string[] {
  const found: string[] = [];
  if (EXAMPLE_ACCOUNTS.has(c.account)) found.push(`account (${c.account})`);
  if (c.source.owner.startsWith('example')) found.push(`source.owner (${c.source.owner})`);
  if (ZERO_UUID.test(c.source.connectionArn)) found.push('source.connectionArn (all-zero id)');
  if (c.tls.certificateArn && ZERO_UUID.test(c.tls.certificateArn)) found.push('tls.certificateArn (all-zero id)');
  if (c.tls.domainName && EXAMPLE_DOMAIN.test(c.tls.domainName)) found.push(`tls.domainName (${c.tls.domainName})`);
  if (c.tls.hostedZoneId?.includes('EXAMPLE')) found.push(`tls.hostedZoneId (${c.tls.hostedZoneId})`);
  for (const list of ['emails', 'pageEmails'] as const)
    c.alarms[list].forEach((e, i) => {
      if (EXAMPLE_DOMAIN.test(e.split('@')[1] ?? '')) found.push(`alarms.${list}.${i} (${e})`);
    });
  return found;
}

/**
 * The deploy preflight: the configuration must be the team's own, and the credentials must be for its account.
 * @param deployAccount the account the CLI resolved from the credentials (CDK_DEFAULT_ACCOUNT), if any
 */
export function preflightProblems(c: EnvironmentConfig, deployAccount?: string): string[] {
  const problems = findExampleValues(c).map((f) => `${f} is an example value: set your own in config/${c.envName}.json`);
  if (deployAccount && deployAccount !== c.account) {
    problems.push(`account: config/${c.envName}.json is for ${c.account} but the credentials are for ${deployAccount}`);
  }
  return problems;
}

/**
 * The environment this one promotes to (the next in PROMOTION_ORDER) must hold its real account before this one
 * deploys: this environment's image repository policy lets that account pull, so an example account there would grant
 * pulls to an account nobody owns, and the real one would be refused.
 */
export function downstreamProblems(c: EnvironmentConfig, downstream: EnvironmentConfig | undefined): string[] {
  if (!downstream || !EXAMPLE_ACCOUNTS.has(downstream.account)) return [];
  return [
    `account of ${downstream.envName} (${downstream.account}) is an example value: ${c.envName}'s image repository grants that account pulls; set it in config/${downstream.envName}.json before deploying ${c.envName}`,
  ];
}
