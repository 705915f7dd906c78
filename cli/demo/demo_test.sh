#!/usr/bin/env bash
# `gander demo` end to end with small random models (fast): it must exit 0
# and report identical continuations for both branches after the SIGKILL,
# (1) on token ids, (2) with text through the server (a small all-ASCII
# vocabulary), (3) offline with no --model (the random-model fallback).
set -euo pipefail
gander=$1
tmp=${TEST_TMPDIR:-$(mktemp -d)}
fail() { echo "FAIL: $*" >&2; exit 1; }

# Runs the demo with the given flags into $tmp/NAME.out; fails on exit != 0.
run_demo() {
  local name=$1
  shift
  local status=0
  "$gander" demo --data-dir "$tmp/$name" --threads 1 "$@" >"$tmp/$name.out" 2>&1 || status=$?
  cat "$tmp/$name.out"
  [[ $status -eq 0 ]] || fail "$name: gander demo exited with status $status"
}

# The output reports exact continuations for both branches, a SIGKILL and
# a clean SIGTERM stop.
check_demo() {
  local out=$tmp/$1.out tokens=$2
  for branch in A B; do
    grep -q "=> branch $branch: IDENTICAL ($tokens of $tokens tokens)" "$out" ||
      fail "$1: branch $branch not reported identical"
  done
  grep -q "the server killed by signal 9" "$out" || fail "$1: no SIGKILL reported"
  grep -q "the server exited with status 0" "$out" || fail "$1: no clean stop reported"
  grep -q "checkpoint acknowledged: \"A\" version" "$out" || fail "$1: no acknowledged version"
  if grep -q "DIFFERENT" "$out"; then fail "$1: a branch differs"; fi
}

# Usage errors.
"$gander" demo --help | grep -q -- "--model" || fail "demo --help lists no --model"
if "$gander" demo --tokens 0 --model x.pth >/dev/null 2>&1; then fail "--tokens 0 accepted"; fi
if "$gander" demo --vocab v.txt --offline --cache-dir "$tmp/c0" >/dev/null 2>&1; then
  fail "--vocab without --model accepted"
fi

# 1. Token ids.
"$gander" init-random --layers 2 --embd 128 --vocab 1024 --seed 3 --out "$tmp/ids.safetensors"
run_demo ids --model "$tmp/ids.safetensors" --tokens 12
check_demo ids 12
grep -q "appended token ids" "$tmp/ids.out" || fail "ids: no token-id input shown"

# 2. Text through the server: a vocabulary of newline, the printable ASCII
# characters and a few words, so every generated piece is valid UTF-8.
vocab=$tmp/ascii_vocab.txt
: >"$vocab"
echo "1 '\\n' 1" >>"$vocab"
id=2
for code in $(seq 32 126); do
  char=$(printf "\\$(printf '%03o' "$code")")
  case $char in
    "'") literal="\"'\"" ;;
    "\\") literal="'\\\\'" ;;
    *) literal="'$char'" ;;
  esac
  echo "$id $literal 1" >>"$vocab"
  id=$((id + 1))
done
for word in User Assistant goose ' moon' ' the'; do
  echo "$id '$word' ${#word}" >>"$vocab"
  id=$((id + 1))
done
"$gander" init-random --layers 2 --embd 128 --vocab 128 --seed 5 --out "$tmp/text.safetensors"
run_demo text --model "$tmp/text.safetensors" --vocab "$vocab" --tokens 10
check_demo text 10
grep -q 'appended "User: Tell me' "$tmp/text.out" || fail "text: the prompt is not shown as text"

# 3. No --model, offline: the demo writes a random model into the cache and
# says plainly that its text is noise.
run_demo offline --offline --cache-dir "$tmp/cache" --tokens 8
check_demo offline 8
grep -q "this model is RANDOM: its text is noise" "$tmp/offline.out" || fail "no random-model warning"
[[ -f $tmp/cache/random-L4-C256-V1024-seed1.pth ]] || fail "no random model in the cache"
echo "gander demo: ok"
