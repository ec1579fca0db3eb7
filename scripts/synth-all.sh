#!/usr/bin/env bash
# Synthesizes every environment into cdk.out.<env>/ (cdk-nag packs run inside each synth) and prints the wall time of each.
# synthOnly: these templates are checked, never deployed, so the deploy preflight (example values, account) is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
# No telemetry and no notices lookup: in the pipeline's VPC those names are not on the DNS allow list, and a blocked
# lookup raises the egress alarm (docs/runbooks/egress-domains.md).
export CDK_DISABLE_CLI_TELEMETRY=true
for env in dev staging prod; do
  start=$(date +%s%N)
  npx cdk synth -q --no-notices -c env="$env" -c synthOnly=true -o "cdk.out.$env" >/dev/null
  ms=$((($(date +%s%N) - start) / 1000000))
  printf 'synth %-8s ok in %d.%d s -> cdk.out.%s/TapStack-%s.template.json\n' "$env" $((ms / 1000)) $((ms % 1000 / 100)) "$env" "$env"
done
