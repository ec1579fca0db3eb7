#!/usr/bin/env bash
# cfn-lint and checkov over every synthesized template (run scripts/synth-all.sh first).
# The tools are pinned in requirements-iac.txt and installed into .venv on first use (.ci/run does it up front).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/checkov ] || [ ! -x .venv/bin/cfn-lint ]; then
  echo "installing cfn-lint and checkov into .venv (requirements-iac.txt)"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-iac.txt
fi
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p reports
templates=(cdk.out.*/TapStack-*.template.json)
[ -e "${templates[0]}" ] || { echo "no templates: run scripts/synth-all.sh first" >&2; exit 1; }

# cfn-lint: errors fail; warnings are printed, counted and fail too unless listed (with a reason) in .cfnlintrc.yaml.
set +e
cfn-lint --format parseable "${templates[@]}" > reports/cfn-lint.txt
lint_rc=$?
set -e
errors=$(grep -c ':E[0-9]' reports/cfn-lint.txt || true)
warnings=$(grep -c ':W[0-9]' reports/cfn-lint.txt || true)
echo "cfn-lint: ${#templates[@]} templates, ${errors} errors, ${warnings} warnings"
if [ "$lint_rc" -ne 0 ]; then cat reports/cfn-lint.txt; exit 1; fi

# checkov: every failed check fails the run unless skipped in .checkov.yaml, where each skip carries its reason.
set +e
checkov --config-file .checkov.yaml $(printf -- '--file %s ' "${templates[@]}") --output cli --output json --output-file-path reports/ > reports/checkov.txt 2>&1
ck_rc=$?
set -e
python3 - <<'PY'
import json, sys
data = json.load(open('reports/results_json.json'))
reports = data if isinstance(data, list) else [data]
passed = sum(r.get('summary', {}).get('passed', 0) for r in reports)
failed = sum(r.get('summary', {}).get('failed', 0) for r in reports)
skipped = sum(r.get('summary', {}).get('skipped', 0) for r in reports)
print(f"checkov: {passed} passed, {failed} failed, {skipped} skipped")
skips = {}
for r in reports:
    for c in r.get('results', {}).get('skipped_checks', []):
        key = (c['check_id'], c['resource'].split('.')[-1], (c.get('check_result') or {}).get('suppress_comment', ''))
        skips[key] = skips.get(key, 0) + 1
for (cid, res, why), n in sorted(skips.items()):
    print(f"  skipped {cid} on {res} in {n} template(s): {why}")
for r in reports:
    for c in r.get('results', {}).get('failed_checks', []):
        print(f"  FAILED {c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}")
PY
exit "$ck_rc"
