#!/usr/bin/env bash
# The bash completion, run for real: the script is sourced into bash and _vramfit is called with
# COMP_WORDS / COMP_CWORD set as readline would, checking COMPREPLY, both for fixed cases and against
# the option tables themselves (`vramfit __commands`, `vramfit __options CMD`). The zsh completion is
# checked with `zsh -n` when zsh is installed (it is not a dependency).
# Usage: test_completion.sh VRAMFIT SOURCE_DIR
set -uo pipefail
cli=$1 src=$2
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# shellcheck source=/dev/null
source "$src/completions/vramfit.bash" || { echo "FAIL: cannot source the bash completion"; exit 1; }
complete -p vramfit >/dev/null 2>&1 && ok || bad "complete -F _vramfit vramfit is not registered"

# complete WORD... : COMPREPLY for the last word, one per line.
complete_words() {
    COMP_WORDS=("$cli" "$@")
    COMP_CWORD=${#COMP_WORDS[@]}
    COMP_CWORD=$((COMP_CWORD - 1))
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _vramfit 2>/dev/null
    printf '%s\n' "${COMPREPLY[@]}"
}
# expect "DESCRIPTION" "EXPECTED (sorted, space-separated)" WORD...
expect() {
    local what=$1 want=$2
    shift 2
    local got
    got=$(complete_words "$@" | sort | paste -sd' ')
    [ "$got" = "$want" ] && ok || bad "$what: [$*] gave '$got', expected '$want'"
}
# expect_has "DESCRIPTION" ITEM WORD...
expect_has() {
    local what=$1 item=$2
    shift 2
    # grep reads all input (no -q): an early exit would SIGPIPE the writer and fail under pipefail
    complete_words "$@" | grep -xF -- "$item" >/dev/null && ok || bad "$what: [$*] does not offer '$item'"
}

all_commands=$("$cli" __commands | cut -f1 | sort | paste -sd' ')
[ "$(wc -w <<<"$all_commands")" -ge 8 ] && ok || bad "vramfit __commands lists too few commands: $all_commands"
for cmd in $all_commands; do
    grep -qE "^  $cmd +[a-z]" < <("$cli" --help) && ok || bad "vramfit --help does not list $cmd"
done
expect "subcommands" "$all_commands" ""
expect "subcommands after a global option" "$all_commands" -q ""
expect "subcommand prefix" "estimate" est
expect "subcommand prefix" "adapters audit" a
expect "global options" "--help" --he
expect "global options" "--verbose --version" --ve
expect "estimate --method values" "all lora osft qlora sft" estimate --method ""
expect "estimate -m values" "lora" estimate ckpt -m lo
expect "adapters --method values" "lora osft" adapters --method ""
expect "--method=VALUE" "qlora" estimate --method = q
expect "--gpu names" "L4 L40 L40S" estimate ckpt --gpu L4
expect_has "--gpu auto" auto plan ckpt --gpu ""
first_gpu=$("$cli" gpus | head -n1)
expect_has "--gpu lists vramfit gpus" "$first_gpu" estimate --gpu ""
expect "--gpu=NAME" "H100-80GB H100-NVL" estimate --gpu = H100
expect "--lora-bias values" "lora_only" adapters --lora-bias lo
expect "option prefix" "--method" estimate --me
expect "option prefix" "--against" verify --ag
expect "option prefix" "--target --target-regex" adapters --targ
expect_has "global option on a subcommand" "--quiet" inspect --
expect_has "global option on a subcommand" "--verbose" plan --v
expect "no value offered for --gpus" "" estimate --gpus ""
expect "estimate --estimator values" "detailed training-hub" estimate ckpt --estimator ""
expect "estimate --sharding values" "fsdp-full fsdp-grad-op fsdp-hybrid" estimate ckpt --sharding fsdp
expect "estimate --optimizer values" "adamw adamw-8bit" estimate ckpt --optimizer adamw
expect "estimate --gradient-checkpointing values" "full none selective" estimate --gradient-checkpointing ""
expect_has "estimate offers the detailed levers" "--activation-offload" estimate --act
expect "no value offered for --grad-accum" "" estimate --grad-accum ""

# Against the tables: every command offers exactly its table's long options, and every option that
# lists values offers exactly those values.
for cmd in $all_commands; do
    n=$(complete_words "$cmd" -- | wc -l)
    [ "$n" -ge 3 ] && ok || bad "vramfit $cmd -- offers only $n options"
    want=$("$cli" __options "$cmd" | cut -f1 | sort | paste -sd' ')
    expect "vramfit $cmd -- offers its option table" "$want" "$cmd" --
    while IFS=$'\t' read -r long short meta kind values; do
        [ "$kind" = list ] || continue
        expect "vramfit $cmd $long offers its table's values" "$(tr ' ' '\n' <<<"$values" | sort | paste -sd' ')" \
            "$cmd" "$long" ""
    done < <("$cli" __options "$cmd")
done
families=$("$cli" __options adapters | awk -F'\t' '$1 == "--family" { print $5 }')
[ "$(wc -w <<<"$families")" -ge 9 ] && ok || bad "adapters --family lists too few families: '$families'"

# PATH: files and directories
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/ckpt-dir"
: >"$tmp/ckpt-one.safetensors"
: >"$tmp/other"
expect "PATH completes files and directories" "$tmp/ckpt-dir $tmp/ckpt-one.safetensors" inspect "$tmp/ckpt"
expect "--hf-cache completes directories only" "$tmp/ckpt-dir" estimate --hf-cache "$tmp/ck"
expect "--against completes files" "$tmp/other" verify x --against "$tmp/o"
expect "gpus takes no PATH" "" gpus "$tmp/ckpt"

if command -v zsh >/dev/null 2>&1; then
    zsh -n "$src/completions/_vramfit" && ok || bad "zsh -n completions/_vramfit"
else
    echo "zsh not installed: its completion is checked only where zsh is"
fi
head -n1 "$src/completions/_vramfit" | grep -x '#compdef vramfit' >/dev/null && ok || bad "_vramfit lacks '#compdef vramfit'"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
