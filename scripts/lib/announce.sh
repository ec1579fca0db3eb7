# Sourced by the deploys a person runs (scripts/deploy-infra.sh, scripts/deploy-recovery.sh): each announces itself on
# the environment's notice topic before and after, so the record of a deploy by hand does not depend on who ran it.
# Needs $env set. The topic exists once the main stack does; the very first deploy has nobody to tell yet.

# The notice topic of TapStack-$env, or nothing.
announce_topic=$(aws cloudformation describe-stacks --stack-name "TapStack-$env" --query "Stacks[0].Outputs[?OutputKey=='AlarmTopicArn'].OutputValue" --output text 2>/dev/null || true)

# announce <subject> <first lines of the message>: publishes the subject, then the message followed by the commit
# (and whether the working tree had uncommitted changes).
announce() {
  local subject=$1 message=$2
  if [[ -n $announce_topic && $announce_topic != None ]]; then
    aws sns publish --topic-arn "$announce_topic" --subject "$subject" \
      --message "$(printf '%s\nCommit: %s (%s)' "$message" "$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
        "$(git status --porcelain 2>/dev/null | grep -q . && echo 'uncommitted changes' || echo clean)")" >/dev/null
  fi
}
