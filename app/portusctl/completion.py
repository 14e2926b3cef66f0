"""`portusctl completion bash`: a bash completion script built from the resource table."""

from __future__ import annotations

from app.portusctl.resources import RESOURCES

COMMANDS = (
    "get",
    "create",
    "update",
    "delete",
    "validate",
    "explain",
    "health",
    "version",
    "bootstrap",
    "exec",
    "search",
    "login",
    "logout",
    "profiles",
    "completion",
)
GLOBAL_FLAGS = ("--server", "--user", "--token", "--profile", "--quiet", "--version", "--help")
OPTIONS_WITH_VALUE = "-s|--server|-u|--user|-t|--token|-p|--profile"
EXEC_COMMANDS = ("migrate", "sync", "gc", "create-user", "registry-config", "worker", "serve")


def _case(pattern: str, words: str) -> str:
    return f'        {pattern}) words_="{words}" ;;'


def bash() -> str:
    resource_names = " ".join(sorted({s for r in RESOURCES for s in r.synonyms}))
    subresources = []
    keys = []
    for resource in RESOURCES:
        pattern = "|".join(resource.synonyms)
        if resource.subresources:
            subresources.append(_case(pattern, " ".join(resource.subresources)))
        for action, action_keys in resource.actions.items():
            if action_keys.all:
                words = " ".join(f"{key}=" for key in action_keys.all)
                keys.append(_case(f"{action}:{pattern.replace('|', f'|{action}:')}", words))
    return f"""# bash completion for portusctl: eval "$(portusctl completion bash)"
_portusctl() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local i word command= resource= position=0 words_=
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        case "$word" in
            {OPTIONS_WITH_VALUE}) ((i++)); continue ;;
            -*) continue ;;
        esac
        if [[ -z $command ]]; then command=$word
        else
            ((position++))
            [[ $position == 1 ]] && resource=$word
        fi
    done
    case "$prev" in
        -f|--format) COMPREPLY=($(compgen -W "default json" -- "$cur")); return ;;
        {OPTIONS_WITH_VALUE}) return ;;
    esac
    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "{" ".join(GLOBAL_FLAGS)}" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "{" ".join(COMMANDS)}" -- "$cur"))
        fi
        return
    fi
    case "$command" in
        get|create|update|delete|validate|explain)
            if [[ $position == 0 ]]; then
                COMPREPLY=($(compgen -W "{resource_names}" -- "$cur"))
                return
            fi ;;
        exec)
            [[ $position == 0 ]] && COMPREPLY=($(compgen -W "{" ".join(EXEC_COMMANDS)}" -- "$cur"))
            return ;;
        completion) COMPREPLY=($(compgen -W "bash" -- "$cur")); return ;;
        bootstrap)
            COMPREPLY=($(compgen -W "username= email= password= display_name=" -- "$cur"))
            compopt -o nospace 2>/dev/null
            return ;;
        *) return ;;
    esac
    if [[ $command == get && $position == 2 ]]; then
        case "$resource" in
{chr(10).join(subresources)}
        esac
        COMPREPLY=($(compgen -W "$words_" -- "$cur"))
        return
    fi
    case "$command:$resource" in
{chr(10).join(keys)}
    esac
    COMPREPLY=($(compgen -W "$words_" -- "$cur"))
    [[ $words_ ]] && compopt -o nospace 2>/dev/null
}}
complete -F _portusctl portusctl
"""
