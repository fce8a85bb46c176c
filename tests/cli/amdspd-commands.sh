#!/bin/bash
# confpool-amdspd's command table: the top-level usage, an unknown command,
# --help of every command (its own usage on stdout, exit 0), a bad option,
# a stray argument and a missing --state-dir per command (usage error, exit
# 2), and the TCB text refused before any key is made.
set -u
BIN=${CP_BIN_DIR:?}
T=$(mktemp -d /tmp/cp-amdspd-cmd-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect CODE cmd...
        local want=$1; shift
        "$@" >"$T/out" 2>"$T/err"; local got=$?
        [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got, expected $want: $*"; }
}
D=${BIN}/confpool-amdspd
COMMANDS="init launch set-tcb mask revoke export serve"

expect 2 "$D"
grep -q '^usage: confpool-amdspd <command>' "$T/err" || fail "no usage without a command"
expect 0 "$D" --help
for c in $COMMANDS; do
        grep -q "^  $c " "$T/out" || fail "top-level usage does not list $c"
done
expect 2 "$D" frobnicate --state-dir "$T/none"
grep -q "unknown command 'frobnicate'" "$T/err" || fail "unknown command not named"

for c in $COMMANDS; do
        expect 0 "$D" "$c" --help
        grep -q "^usage: confpool-amdspd $c --state-dir DIR" "$T/out" || fail "$c --help: no usage on stdout"
        [ -s "$T/err" ] && fail "$c --help wrote to stderr"
        expect 2 "$D" "$c" --state-dir "$T/none" --no-such-option
        grep -q "no-such-option" "$T/err" || fail "$c: bad option not named"
        grep -q "^usage: confpool-amdspd $c " "$T/err" || fail "$c: bad option without usage"
        expect 2 "$D" "$c" --state-dir "$T/none" stray
        expect 2 "$D" "$c"
        grep -q -- "--state-dir" "$T/err" || fail "$c: missing --state-dir not named"
        expect 2 "$D" "$c" --state-dir
done
# one command's option is not another's
expect 2 "$D" mask --state-dir "$T/none" --tcb bl=1,tee=0,snp=1,ucode=1
expect 2 "$D" export --state-dir "$T/none" --chip-key

# TCB text: refused before the host is made (no state directory appears)
for tcb in bl=1,tee=0,snp=1 bl=1,tee=0,snp=1,ucode=1,bl=2 bl=1,tee=0,snp=1,ucode=256 \
           bl=1,tee=0,snp=1,ucode=1, xyz=1,bl=1,tee=0,snp=1,ucode=1 bl=1,tee=0,snp=1,ucode=1,fmc=1; do
        expect 2 "$D" init --state-dir "$T/host" --generation Milan --tcb "$tcb"
        grep -q "TCB" "$T/err" || fail "init --tcb $tcb: the refusal does not say why"
done
expect 2 "$D" init --state-dir "$T/host" --generation Pluto --tcb bl=1,tee=0,snp=1,ucode=1
expect 2 "$D" init --state-dir "$T/host" --tcb bl=1,tee=0,snp=1,ucode=1
[ -e "$T/host" ] && fail "a refused init left a state directory"
# a host that is not there: exit 1, after the options were accepted
expect 1 "$D" mask --state-dir "$T/none" --chip-key
echo "amdspd commands: ok"
