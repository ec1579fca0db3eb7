import { z } from 'zod';
import type { EnvironmentConfig } from './schema';

/**
 * DNS Firewall counts every domain specification across all lists of the account and region against one quota of
 * 100,000, and its API takes at most 1,000 domains per update (docs/aws-contracts.md, "Egress"). A list this long
 * would also no longer be a list anyone reviews.
 */
export const MAX_ALLOWED_DOMAINS = 1000;

/**
 * A DNS Firewall domain specification as AWS documents it (1-255 characters, letters, digits, hyphens, dots between
 * labels, optionally one leading `*.`), held to lower case, to labels of 1-63 characters and to a top-level label of
 * letters, so each entry means exactly one name or one name's subdomains.
 */
// eslint-disable-next-line security/detect-unsafe-regex -- labels need a dot between them and the length is capped at 253 by the lookahead
const DOMAIN = /^(?=.{1,253}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export const egressConfigSchema = z
  .object({
    /**
     * The names the VPC may resolve (builds, tasks, functions): `name` for the name itself, `*.name` for every name
     * below it (AWS does not say that it matches the name itself: list both where both are called). Every other name
     * is answered NXDOMAIN (or only logged, in alert mode). The environment's own
     * `tls.domainName` is added by the stack (the smoke tests call it).
     */
    allowedDomains: z
      .array(
        z.string().regex(DOMAIN, 'must be a lower-case DNS name like registry.npmjs.org, or *. and a name of at least two labels like *.example.org'),
      )
      .min(1, 'must list at least the AWS endpoints the VPC calls')
      .max(MAX_ALLOWED_DOMAINS, `must list at most ${MAX_ALLOWED_DOMAINS} names`)
      .superRefine((domains, ctx) => {
        domains.forEach((d, i) => {
          if (domains.indexOf(d) !== i) ctx.addIssue({ code: 'custom', path: [i], message: 'duplicated name' });
        });
      }),
    /**
     * `block` answers NXDOMAIN for every name not allowed; `alert` only logs it (and raises the alarm), for learning
     * an environment's names before blocking them (docs/runbooks/egress-domains.md). prod always blocks.
     */
    dnsFirewallMode: z.enum(['block', 'alert']),
    /**
     * What Resolver does when DNS Firewall cannot answer: `false` (AWS's default) fails closed and answers SERVFAIL,
     * `true` lets the query through unfiltered. Only outside prod may availability win over the filter.
     */
    dnsFirewallFailOpen: z.boolean(),
  })
  .strict();

export function egressProblems(c: EnvironmentConfig, show: (v: unknown) => string): string[] {
  const p: string[] = [];
  if (c.envName === 'prod' && c.egress.dnsFirewallMode !== 'block') {
    p.push(`egress.dnsFirewallMode: prod blocks every name not allowed (PCI DSS 1.3.2), got: ${show(c.egress.dnsFirewallMode)}`);
  }
  if (c.envName === 'prod' && c.egress.dnsFirewallFailOpen) {
    p.push(`egress.dnsFirewallFailOpen: prod fails closed (unfiltered DNS is an open egress path, PCI DSS 1.3.2), got: ${show(true)}`);
  }
  return p;
}

/**
 * The names the DNS Firewall allows for an environment: its config's list, the environment's own domain name, and the
 * CloudFormation endpoint of its recovery region.
 */
export function allowedDomainsOf(c: Pick<EnvironmentConfig, 'egress' | 'tls' | 'recovery'>): string[] {
  const own = c.tls.domainName ? [c.tls.domainName] : [];
  // Infra-Plan reads the recovery stack in the second region before planning (tools/infra/recovery.ts).
  const recovery = [`cloudformation.${c.recovery.region}.amazonaws.com`];
  return [...new Set([...c.egress.allowedDomains, ...own, ...recovery])];
}
