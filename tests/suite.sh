#!/usr/bin/env bash
# The suite (`make test`) as two pytest processes side by side: the tests marked `serial`
# (they start Ray, or share the session's smoke corpus and model) one at a time in one
# process, since several Ray instances on one machine break Ray Train's own state queries;
# every other test (unit tests, services, corpus builds) in the other.
# Usage: tests/suite.sh PYTHON [pytest args, -m included]; the second process's report
# prints last. The part each process runs is chosen in tests/conftest.py.
set -uo pipefail
python=$1; shift
others_log=$(mktemp)
trap 'rm -f "$others_log"' EXIT
MSVAE_SUITE_PART=others "$python" -m pytest "$@" >"$others_log" 2>&1 &
others=$!
MSVAE_SUITE_PART=serial "$python" -m pytest "$@"
rc=$?
wait "$others"
others_rc=$?
echo "============================ tests not marked serial ============================"
cat "$others_log"
# pytest's 5 is "no test selected": fine for one process when the other ran tests
if (( rc == 5 && others_rc != 5 )); then rc=0; fi
if (( others_rc == 5 && rc != 5 )); then others_rc=0; fi
exit $(( rc > others_rc ? rc : others_rc ))
