#!/usr/bin/env bash
# Deploys an environment's recovery stack, TapStack-<env>-recovery, in its second region (config recovery.region): the
# audit-log replicas, the backup vault and their key (lib/recovery/recovery-stack.ts). The pipeline applies the main
# stack only, and the main stack's replication rules and backup copies need this stack in place, so run it before the
# environment's first deployment and before a change to what this stack reads reaches the pipeline: lib/recovery/,
# recovery.region, logs.retentionDays or tags (docs/runbooks/disaster-recovery.md). It holds data only
# and changes rarely. It announces itself on the environment's topic before and after, when the main stack exists.
# The break-glass path (npm run deploy:infra) deploys it too, first, as a dependency of the main stack.
# Usage: npm run deploy:recovery -- <dev|staging|prod> [cdk args]
set -euo pipefail
cd "$(dirname "$0")/.."
env=${1:?usage: npm run deploy:recovery -- <dev|staging|prod> [cdk args]}
shift
account=$(aws sts get-caller-identity --query Account --output text)
who=$(aws sts get-caller-identity --query Arn --output text)
npm run --silent preflight -- "$env" "$account"
npx cdk synth -q -c env="$env" -o "cdk.out.$env" >/dev/null
# shellcheck source=scripts/lib/announce.sh
source scripts/lib/announce.sh
said() {
  announce "[$env] recovery stack deploy $1" "$(printf 'Who: %s\nStack: TapStack-%s-recovery\nArguments: %s' "$who" "$env" "${*:2}")"
}
said started "$@"
status=0
npx cdk deploy -c env="$env" --app "cdk.out.$env" --exclusively --require-approval broadening "TapStack-$env-recovery" "$@" || status=$?
if [[ $status -eq 0 ]]; then said succeeded "$@"; else said "FAILED (exit $status)" "$@"; fi
exit $status
