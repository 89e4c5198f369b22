#!/usr/bin/env bash
# Builds every fuzz target, then runs each for SECONDS (default 30), one after another, on its committed
# seeds (fuzz/seeds/<target>) plus its working corpus (fuzz/corpus/<target>, where new inputs go).
# Fails if any target crashes, times out or runs out of memory; the input is in fuzz/artifacts/<target>/
# and the full output in fuzz/logs/<target>.log. Ends with a table of executions per target.
#
#   fuzz/run.sh [SECONDS]                    every target
#   FUZZ_TARGETS="verify jwks" fuzz/run.sh   some of them
#   FUZZ_TOOLCHAIN=stable fuzz/run.sh        force stable + RUSTC_BOOTSTRAP=1 (default: nightly if present)
#
# Runs under `nice`: the machine is usually shared.
set -euo pipefail

seconds="${1:-30}"
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz not found: installing it" >&2
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes -Z flags (sanitizer, coverage instrumentation): nightly takes them, and so does
# stable with RUSTC_BOOTSTRAP=1, so a CI image without nightly still works.
toolchain="${FUZZ_TOOLCHAIN:-auto}"
if [[ $toolchain == auto ]]; then
  if command -v rustup >/dev/null && rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=nightly
  else
    toolchain=stable
  fi
fi
if [[ $toolchain != nightly ]]; then
  export RUSTC_BOOTSTRAP=1
fi
if command -v rustup >/dev/null; then
  fuzz=(nice -n 10 cargo "+$toolchain" fuzz)
else
  fuzz=(nice -n 10 cargo fuzz)
fi
if command -v rustup >/dev/null; then
  echo "toolchain: $toolchain ($(rustup run "$toolchain" rustc --version))"
fi

"${fuzz[@]}" build
targets=(${FUZZ_TARGETS:-$("${fuzz[@]}" list)})

# Bodies are capped at 256 KiB by the receiver, but nothing here needs more than 64 KiB to reach a path.
libfuzzer_args=(-max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=30 -print_final_stats=1)

mkdir -p logs
failed=()
rows=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  dict=()
  [[ -f dicts/$target.dict ]] && dict=(-dict="dicts/$target.dict")
  log="logs/$target.log"
  echo "== $target: ${seconds}s (log: fuzz/$log)"
  status=0
  "${fuzz[@]}" run "$target" "corpus/$target" "seeds/$target" -- "${libfuzzer_args[@]}" "${dict[@]}" \
    >"$log" 2>&1 || status=$?

  # libFuzzer: "Done 123 runs in 30 second(s)", and the final stats.
  done_line=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
  runs=$(awk '{print $2}' <<<"$done_line")
  secs=$(awk '{print $5}' <<<"$done_line")
  if [[ -z $runs ]]; then
    runs=$(grep -Eo 'number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' | tail -1 || true)
  fi
  rate=$(grep -Eo 'average_exec_per_sec: +[0-9]+' "$log" | awk '{print $2}' | tail -1 || true)
  units=$(grep -Eo 'corp: [0-9]+/' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  files=$(find "corpus/$target" -type f | wc -l)
  if [[ $status -eq 0 ]]; then
    result=ok
  else
    result="FAILED ($status)"
    failed+=("$target")
    echo "!! $target failed; last lines of fuzz/$log:" >&2
    tail -n 40 "$log" >&2
    artifact=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -1 | awk '{print $5}' || true)
    [[ -n $artifact ]] && echo "!! input: $artifact" >&2
  fi
  rows+=("$(printf '%-18s %-11s %8s %12s %8s %8s %8s' \
    "$target" "$result" "${secs:--}" "${runs:--}" "${rate:--}" "${units:--}" "$files")")
done

echo
# corpus: inputs libFuzzer kept (seeds included); files: the working corpus on disk.
printf '%-18s %-11s %8s %12s %8s %8s %8s\n' target result seconds execs exec/s corpus files
for row in "${rows[@]}"; do echo "$row"; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
