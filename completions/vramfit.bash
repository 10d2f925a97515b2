# bash completion for vramfit(1): subcommands, each subcommand's options and the values they take
# (--method, --gpu, --family, ... and which take files or directories), all read from vramfit's own
# option tables through the hidden `vramfit __commands` and `vramfit __options CMD`, so they never
# go stale; PATH completes files and directories.
# Installed as share/bash-completion/completions/vramfit; or `source completions/vramfit.bash`.

# The vramfit being completed: the word typed, when it can be run, else the one on PATH.
_vramfit_bin()
{
    local bin=${COMP_WORDS[0]}
    [[ $bin == "~"* ]] && bin=$HOME${bin#\~}
    type -P -- "$bin" >/dev/null 2>&1 || bin=vramfit
    printf '%s\n' "$bin"
}

# The subcommands: `vramfit __commands` prints NAME, OPERAND (or -) and SUMMARY, tab-separated.
_vramfit_commands()
{
    "$1" __commands 2>/dev/null | cut -f1
}

# The option table of subcommand $2 (of vramfit itself when $2 is empty): one option per line,
# --NAME, -S (or -), META (or -), KIND (flag, value, list, file, dir), VALUES, tab-separated.
_vramfit_table()
{
    "$1" __options ${2:+"$2"} 2>/dev/null
}

# The long options of subcommand $2, one per line.
_vramfit_options()
{
    _vramfit_table "$1" "$2" | cut -f1
}

# Status 0 when subcommand $2 takes an operand (PATH, ADAPTER_DIR).
_vramfit_takes_operand()
{
    local name operand summary
    while IFS=$'\t' read -r name operand summary; do
        [[ $name == "$2" ]] && { [[ $operand != - ]]; return; }
    done < <("$1" __commands 2>/dev/null)
    return 1
}

_vramfit_files()
{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen "$1" -- "$2")
}

# Completes the value of option $1 from its row in table $2; status 1 when $1 is a flag or unknown.
_vramfit_value()
{
    local long short meta kind values
    while IFS=$'\t' read -r long short meta kind values; do
        [[ $1 == "$long" || ($short != - && $1 == "$short") ]] || continue
        case $kind in
        list) mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur") ;;
        file) _vramfit_files -f "$cur" ;;
        dir) _vramfit_files -d "$cur" ;;
        value) ;; # a free value: nothing to offer
        *) return 1 ;;
        esac
        return 0
    done <<<"$2"
    return 1
}

_vramfit()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} bin cmd= i table
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
            mapfile -t COMPREPLY < <(compgen -W "$(_vramfit_options "$bin" "")" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$(_vramfit_commands "$bin")" -- "$cur")
        fi
        return 0
    fi
    table=$(_vramfit_table "$bin" "$cmd")
    _vramfit_value "$prev" "$table" && return 0
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(cut -f1 <<<"$table")" -- "$cur")
    elif _vramfit_takes_operand "$bin" "$cmd"; then
        _vramfit_files -f "$cur" # the operand: a directory, a .safetensors, index or .vfsnap file
    fi
    return 0
}

complete -F _vramfit vramfit
