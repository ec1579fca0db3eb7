#!/usr/bin/env bash
# The one way to deploy infrastructure changes to an environment: preflight, synth, the listener-rule guard
# (docs/deployments.md, trap 2, aws-cdk #36649), then cdk deploy. Usage: npm run deploy:infra -- <env> [extra cdk args]
set -euo pipefail
cd "$(dirname "$0")/.."
env=${1:?usage: npm run deploy:infra -- <dev|staging|prod> [cdk args]}
shift
account=$(aws sts get-caller-identity --query Account --output text)
npm run --silent preflight -- "$env" "$account"
# Context flags (-c name=value) shape the template, so they go to the synth; cdk deploy then deploys that assembly.
context=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ ${args[i]} == -c || ${args[i]} == --context ]]; then context+=(-c "${args[i + 1]:?-c needs name=value}"); fi
done
npx cdk synth -q -c env="$env" ${context[@]+"${context[@]}"} -o "cdk.out.$env" >/dev/null
STACK_NAME="TapStack-$env" RULE_LOGICAL_ID=LoadBalancerProductionRule1971DB67 TEMPLATE_PATH="cdk.out.$env/TapStack-$env.template.json" \
  npx tsx tools/listener-guard/cli.ts
npx cdk deploy -c env="$env" --app "cdk.out.$env" --require-approval broadening "$@"
