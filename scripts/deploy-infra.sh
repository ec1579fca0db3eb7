#!/usr/bin/env bash
# Break-glass only: infrastructure reaches an environment through its pipeline (Infra-Plan, [Approve], Infra-Apply;
# docs/pipeline.md). This deploys by hand when the pipeline cannot: its first deployment, a change the pipeline refuses
# to apply on its own, or a pipeline that is itself broken (docs/runbooks/infrastructure-change.md). It announces itself
# on the environment's topic before and after, runs the preflight, the synth and the listener-rule guard (docs/deployments.md,
# trap 2, aws-cdk #36649), then cdk deploy. The next pipeline run reconciles the stack with the branch.
# Usage: BREAK_GLASS_REASON="<why, ticket>" npm run deploy:infra -- <env> [extra cdk args]
set -euo pipefail
cd "$(dirname "$0")/.."
env=${1:?usage: BREAK_GLASS_REASON="<why>" npm run deploy:infra -- <dev|staging|prod> [cdk args]}
shift
reason=${BREAK_GLASS_REASON:-}
if [[ ${#reason} -lt 10 ]]; then
  echo "deploy:infra is the break-glass path: set BREAK_GLASS_REASON to why the pipeline cannot apply this (at least 10 characters, a ticket id helps)" >&2
  exit 2
fi
account=$(aws sts get-caller-identity --query Account --output text)
who=$(aws sts get-caller-identity --query Arn --output text)
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
# shellcheck source=scripts/lib/announce.sh
source scripts/lib/announce.sh
said() {
  announce "[$env] BREAK-GLASS infrastructure deploy $1" \
    "$(printf 'Who: %s\nReason: %s\nArguments: %s\nThe next pipeline run reconciles the stack with the branch.' "$who" "$reason" "${*:2}")"
}
said started "$@"
status=0
# The main stack by name (the app has two); its dependency, the recovery stack in the second region, is deployed first.
npx cdk deploy -c env="$env" --app "cdk.out.$env" --require-approval broadening "TapStack-$env" "$@" || status=$?
if [[ $status -eq 0 ]]; then said succeeded "$@"; else said "FAILED (exit $status)" "$@"; fi
exit $status
