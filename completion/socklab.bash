# bash completion for socklab and socklab-exercise: the commands, each
# command's options, lesson numbers and (for run) the lesson's scenarios,
# as `socklab list` prints them, and files where a command takes one.
# Installed as share/bash-completion/completions/socklab (and a link
# named socklab-exercise).

# The lesson numbers, or with $1 a lesson's scenarios, from `socklab list`.
_socklab_lessons()
{
    local socklab=${COMP_WORDS[0]%-exercise}
    if [ -n "$1" ]; then
        "$socklab" list 2>/dev/null | sed -n "s/^ *socklab run $1 \([^ ]*\).*/\1/p"
    else
        "$socklab" list 2>/dev/null | sed -n 's/^\([0-9][0-9]\)  .*/\1/p'
    fi
}

_socklab_exercise_words()
{
    local cmd=$1 cur=$2
    case $cmd in
        exercise) echo "--force --solved --help" ;;
        check) echo "--watch --keep-going --timeout --solution --all --tap --help" ;;
        build) echo "--print-dir --help" ;;
        *) echo "--help" ;;
    esac
}

_socklab()
{
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    COMPREPLY=()
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "run trace watch replay export list exercise check progress --help --version" -- "$cur"))
        return
    fi
    case $prev in
        --record|--pcap|-o|--output|--all)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
        --timeout|--settle|--from|--to|--solved)
            return ;;
    esac
    case $cmd in
        run)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--work --free --no-netns --record --pcap --batch --timeout --settle --help" -- "$cur"))
            elif [ "$COMP_CWORD" -eq $((i + 1)) ]; then
                COMPREPLY=($(compgen -W "$(_socklab_lessons)" -- "$cur"))
            elif [ "$COMP_CWORD" -eq $((i + 2)) ]; then
                COMPREPLY=($(compgen -W "$(_socklab_lessons "${COMP_WORDS[i+1]}")" -- "$cur"))
            fi ;;
        trace)
            COMPREPLY=($(compgen -W "--step --record --pcap --batch --timeout --settle --help --" -- "$cur")) ;;
        watch)
            COMPREPLY=($(compgen -W "--record --pcap --batch --timeout --help" -- "$cur")) ;;
        replay)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--batch --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -X '!*.rec' -- "$cur") $(compgen -d -- "$cur"))
            fi ;;
        export)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--svg --html --txt --output --from --to --no-calls --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -X '!*.rec' -- "$cur") $(compgen -d -- "$cur"))
            fi ;;
        exercise|check|build|lint)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$(_socklab_exercise_words "$cmd")" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_socklab_lessons)" -- "$cur"))
            fi ;;
        *)
            COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
    esac
}

_socklab_exercise()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "exercise check progress list lint build --help" -- "$cur"))
        return
    fi
    _socklab
}

complete -F _socklab socklab
complete -F _socklab_exercise socklab-exercise
