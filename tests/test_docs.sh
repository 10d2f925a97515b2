#!/usr/bin/env bash
# The man page renders without a groff warning, and it cannot drift from the program: every command
# of vramfit's command table (`vramfit __commands`) has its own --help and a section in
# docs/vramfit.1, and every long option of a command's option table (`vramfit __options CMD`) is in
# that --help and in the rendered page, as are the families --family lists.
# Usage: test_docs.sh VRAMFIT SOURCE_DIR
set -uo pipefail
cli=$1 src=$2
man=$src/docs/vramfit.1
pass=0 fail=0
export GROFF_NO_SGR=1 # overstrike, removed below, rather than escape sequences
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# Long options of a command: its option table, the list the completions offer too.
table_options() {
    "$cli" __options "$1" | cut -f1
}

warnings=$(groff -man -Tutf8 -ww "$man" 2>&1 >/dev/null)
[ -z "$warnings" ] && ok || bad "groff warnings: $warnings"
warnings=$(groff -man -Tutf8 -ww -rLL=60n "$man" 2>&1 >/dev/null)
[ -z "$warnings" ] && ok || bad "groff warnings at 60 columns: $warnings"
text=$(groff -man -Tutf8 "$man" 2>/dev/null | sed 's/.\x08//g')
[ -n "$text" ] && ok || bad "the man page renders empty"

commands=$("$cli" __commands | cut -f1)
[ "$(echo "$commands" | wc -l)" -ge 8 ] && ok || bad "vramfit --help lists too few commands: $commands"
total=0
for cmd in $commands; do
    out=$("$cli" "$cmd" --help)
    rc=$?
    { [ $rc -eq 0 ] && [[ $out == "usage: vramfit $cmd"* ]]; } && ok || bad "vramfit $cmd --help (exit $rc)"
    grep -q "^   vramfit $cmd" <<<"$text" && ok || bad "no section 'vramfit $cmd' in the man page"
    opts=$(table_options "$cmd")
    for o in $opts; do
        total=$((total + 1))
        grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|$)" <<<"$text" && ok || bad "vramfit $cmd $o is not in the man page"
        grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|$)" <<<"$out" && ok || bad "vramfit $cmd --help does not show $o"
    done
done
[ "$total" -ge 60 ] && ok || bad "only $total options found in the --help outputs; is the parsing broken?"
families=$("$cli" __options adapters | awk -F'\t' '$1 == "--family" { print $5 }')
[ "$(wc -w <<<"$families")" -ge 9 ] && ok || bad "adapters --family lists too few families: '$families'"
for f in $families; do
    grep -qE -- "(^|[^a-z0-9.-])$f([^a-z0-9-]|$)" <<<"$text" && ok || bad "family $f is not in the man page"
done
for code in 0 1 2 3 4 5 10 11; do
    sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' <<<"$text" | grep -E "^       $code( |$)" >/dev/null && ok || bad "exit code $code is not documented"
done
grep -q "NO_COLOR" <<<"$text" && ok || bad "NO_COLOR is not documented"
version=$("$cli" --version)
grep -q "^\.TH VRAMFIT 1 .* \"$version\" " "$man" && ok || bad "the .TH line does not name '$version'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
