# The bash completions complete what the programs offer: est and estd
# commands, estd subcommands, and each command's long options as its own
# --help lists them (so the test fails when the two drift apart).
. "$E2E_LIB/common.sh"
: "${SOURCE_DIR:?}" "${EST:?}"
BC=/usr/share/bash-completion/bash_completion
[ -f "$BC" ] || fail "bash-completion is not installed (scripts/deps)"
mkdir "$T/bin"
ln -s "$ESTD" "$T/bin/estd"
ln -s "$EST" "$T/bin/est"

complete_words() { # WORD... (the last one is being completed) -> one candidate a line
  PATH="$T/bin:$PATH" bash -c '
    . "$1"; . "$2/dist/bash-completion/est"; . "$2/dist/bash-completion/estd"; shift 2
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    "_$1"; printf "%s\n" "${COMPREPLY[@]}"' _ "$BC" "$SOURCE_DIR" "$@"
}
expect() { # WANTED WORD...
  local want=$1; shift
  complete_words "$@" >"$T/got" 2>"$T/err" || fail "completing '$*': $(cat "$T/err")"
  grep -qx -- "$want" "$T/got" || fail "completing '$*' does not offer $want: $(tr '\n' ' ' <"$T/got")"
}
expect enroll est en
expect reenroll est re
expect --key est enroll --ke
expect --key-type est enroll --ke
expect ec-p384 est enroll --key-type ec-p
expect --days est renew --da
expect tls estd t
expect renew estd tls ""
expect --force estd tls renew --f
expect approve estd pending ap
expect --password-stdin estd user add DIR alice --pass
[ "$(complete_words est enroll --no-such | wc -w)" = 0 ] || fail "offers options that do not exist"
pass "est and estd complete commands, subcommands and options"
