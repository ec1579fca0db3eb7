// The deploy preflight: `npm run preflight -- <env> [account]`. Exits 1 listing every example value, or an account
// that differs from the credentials'. The pipeline's deploy step and `cdk deploy` (through bin/tap.ts) apply it too.
import { ConfigError, EnvironmentName, loadConfig, parseEnvironmentName, preflightProblems } from '../lib/config';

let env: EnvironmentName;
let problems: string[];
try {
  env = parseEnvironmentName(process.argv[2]);
  problems = preflightProblems(loadConfig(env), process.argv[3] ?? process.env.CDK_DEFAULT_ACCOUNT);
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
