# bash completion for vramfit(1): subcommands, each subcommand's options (read from its --help, so
# they never go stale), --method values, --gpu names (from `vramfit gpus`), and paths.
# Installed as share/bash-completion/completions/vramfit; or `source completions/vramfit.bash`.

# The vramfit being completed: the word typed, when it can be run, else the one on PATH.
_vramfit_bin()
{
    local bin=${COMP_WORDS[0]}
    [[ $bin == "~"* ]] && bin=$HOME${bin#\~}
    type -P -- "$bin" >/dev/null 2>&1 || bin=vramfit
    printf '%s\n' "$bin"
}

# The subcommands, from the "commands:" section of `vramfit --help`.
_vramfit_commands()
{
    "$1" --help 2>/dev/null | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }'
}

# The long options of subcommand $2: those in its usage lines and at the start of its option lines.
_vramfit_options()
{
    "$1" "$2" --help 2>/dev/null | awk '
        function scan(s) {
            while (match(s, /--[a-z][a-z0-9-]*/)) {
                print substr(s, RSTART, RLENGTH)
                s = substr(s, RSTART + RLENGTH)
            }
        }
        /^$/ { body = 1 }
        !body { scan($0); next }
        match($0, /^ +(-[A-Za-z], )?--[a-z][a-z0-9-]*( [A-Za-z_.|-]+)?(, --[a-z][a-z0-9-]*)*/) {
            scan(substr($0, RSTART, RLENGTH))
        }' | sort -u
}

# Values of option $1 of subcommand $2 (with binary $3); status 1 when $1 takes no listed values.
_vramfit_values()
{
    case $1 in
    -m | --method)
        if [[ $2 == adapters ]]; then echo "lora osft"; else echo "sft osft lora qlora all"; fi ;;
    --gpu) echo auto; "$3" gpus 2>/dev/null ;;
    --lora-bias) echo "none all lora_only" ;;
    --adapter-dtype) echo "F32 BF16 F16" ;;
    --family) echo "llama phi3 gpt2 gpt-j gpt-neo opt gpt-oss qwen3.5 default" ;;
    --compat) echo training-hub ;;
    --target) echo all-linear ;;
    --estimator) echo "training-hub detailed" ;;
    --dtype) echo "fp32 bf16 fp16" ;;
    --amp) echo "none bf16 fp16" ;;
    --optimizer) echo "adamw adamw-8bit paged-adamw-8bit adafactor sgd sgd-momentum" ;;
    --gradient-checkpointing) echo "none full selective" ;;
    --attention) echo "eager sdpa flash" ;;
    --loss) echo "full chunked liger" ;;
    --sharding) echo "none zero1 zero2 zero3 fsdp-full fsdp-grad-op fsdp-hybrid" ;;
    --offload) echo "none optimizer all" ;;
    *) return 1 ;;
    esac
}

_vramfit_files()
{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen "$1" -- "$2")
}

_vramfit()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} bin cmd= i
    # --opt=value: bash splits it at '=' (COMP_WORDBREAKS)
    if [[ $cur == "=" ]]; then
        cur=
    elif [[ $prev == "=" && $COMP_CWORD -ge 2 ]]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
    bin=$(_vramfit_bin)
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    COMPREPLY=()
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--help --version --quiet --verbose" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(_vramfit_commands "$bin")" -- "$cur")
        fi
        return 0
    fi
    local values
    if values=$(_vramfit_values "$prev" "$cmd" "$bin"); then
        mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
        return 0
    fi
    case $prev in
    --hf-cache) _vramfit_files -d "$cur"; return 0 ;;
    --base | -o | --output | --manifest | --against) _vramfit_files -f "$cur"; return 0 ;;
    --revision | --gpus | --gpu-memory | --max-tokens-per-gpu | --batch-size | --max-seq-len | \
        --lora-r | --unfreeze-rank-ratio | -r | --rank | --rank-pattern | --target-regex | \
        --exclude | --modules-to-save | --margin | --max-gpus | --nodes | --grad-accum | \
        --quant-block-size | --loss-chunks | --host-memory | --max-memory | --no-split)
        return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_vramfit_options "$bin" "$cmd")" -- "$cur")
    elif [[ $cmd != gpus ]]; then
        _vramfit_files -f "$cur" # PATH: a directory, a .safetensors, index or .vfsnap file
    fi
    return 0
}

complete -F _vramfit vramfit
