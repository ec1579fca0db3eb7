#!/usr/bin/env bash
# Synthesizes every environment into cdk.out.<env>/ (cdk-nag packs run inside each synth) and prints the wall time of each.
set -euo pipefail
cd "$(dirname "$0")/.."
for env in dev staging prod; do
  start=$(date +%s.%N)
  npx cdk synth -q -c env="$env" -o "cdk.out.$env" >/dev/null
  end=$(date +%s.%N)
  printf 'synth %-8s ok in %5.1f s -> cdk.out.%s/TapStack-%s.template.json\n' "$env" "$(echo "$end - $start" | bc)" "$env" "$env"
done
