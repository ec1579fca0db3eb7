// The deploy preflight: `npm run preflight -- <env> [account]`. Exits 1 listing every example value (this environment's,
// and the account of the environment it promotes to, which its repository policy names), or an account that differs
// from the credentials'. The pipeline's deploy step and `cdk deploy` (through bin/tap.ts) apply it too.
import {
  ConfigError,
  downstreamProblems,
  EnvironmentName,
  loadAllConfigs,
  parseEnvironmentName,
  preflightProblems,
  PROMOTION_ORDER,
} from '../lib/config';

let env: EnvironmentName;
let problems: string[];
try {
  env = parseEnvironmentName(process.argv[2]);
  const all = loadAllConfigs();
  const downstream = PROMOTION_ORDER[PROMOTION_ORDER.indexOf(env) + 1];
  problems = [
    ...preflightProblems(all[env], process.argv[3] ?? process.env.CDK_DEFAULT_ACCOUNT),
    ...downstreamProblems(all[env], downstream && all[downstream]),
  ];
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(e.message);
  process.exit(1);
}
if (problems.length > 0) {
  console.error(`Preflight refused ${env}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`Preflight passed for ${env}`);
