#!/bin/sh
# CPU benchmark of qwen3vk on a Qwen3-4B-shaped model, end to end. The script builds the benchmark
# programs and writes the model (random bf16 weights, 8.04 GB) if it is absent. It measures memory
# bandwidth with bench/stream, then prompt processing and decode with bench/bench_cpu several
# times, and prints the best figures beside the bandwidth and the weight size.
#
#     bench/cpu.sh [--model DIR] [--build DIR] [--threads N] [--prompt N] [--decode N] [--runs N]
#
# Defaults: --model /tmp/qwen3-4b-random, --build build-bench (under the repository),
# --threads 2, --prompt 64, --decode 8, --runs 3. One run took 15-40 s on a 2-core Xeon VM.
# Writing the model took under a minute there and needs 8.1 GB of disk.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
model=/tmp/qwen3-4b-random
build=$root/build-bench
threads=2
prompt=64
decode=8
runs=3

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
        --model) model=$2 ;;
        --build) build=$2 ;;
        --threads) threads=$2 ;;
        --prompt) prompt=$2 ;;
        --decode) decode=$2 ;;
        --runs) runs=$2 ;;
        *) usage ;;
    esac
    shift 2
done

echo "== build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DQWEN3VK_VULKAN=OFF >/dev/null
make -C "$build" -j2 --no-print-directory make_model stream bench_cpu >/dev/null

if [ ! -f "$model/config.json" ]; then
    echo "== writing the model to $model"
    "$build/bench/make_model" "$model" "$root/tests/data/qwen3-tiny"
fi

echo "== machine"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
echo "cores: $(nproc), memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== stream"
stream_log=$(mktemp)
"$build/bench/stream" --threads "$threads" | tee "$stream_log"
bandwidth=$(awk -v t="$threads" '$1 == "threads" && $2 == t ":" { print $4 }' "$stream_log")

echo "== bench_cpu: $threads threads, $prompt-token prompt, $decode decode tokens, $runs runs"
runs_log=$(mktemp)
run=1
while [ "$run" -le "$runs" ]; do
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v "$build/bench/bench_cpu" -m "$model" --threads "$threads" \
            --prompt "$prompt" --decode "$decode" 2>"$runs_log.time" | tee -a "$runs_log"
        awk '/Maximum resident/ { printf "max RSS (time -v): %.2f GB\n", $6 * 1024 / 1e9 }' \
            "$runs_log.time" | tee -a "$runs_log"
    else
        "$build/bench/bench_cpu" -m "$model" --threads "$threads" --prompt "$prompt" \
            --decode "$decode" | tee -a "$runs_log"
    fi
    run=$((run + 1))
done

echo "== best of $runs runs"
awk -v bw="$bandwidth" '
    /^prefill:/ { v = $8 + 0; if (v > prefill) prefill = v }
    /^decode:/ { v = $8 + 0; if (v > decode) { decode = v; ms = $10 + 0; gbs = $12 + 0 } }
    /^memory:/ { v = $4 + 0; if (v > rss) rss = v; weights = $7 + 0 }
    /^max RSS/ { v = $5 + 0; if (v > time_rss) time_rss = v }
    END {
        printf "prefill: %.2f tokens/s\n", prefill
        printf "decode: %.3f tokens/s (%.1f ms/token), %.2f GB/s of weights = %.0f%% of the " \
               "stream read bandwidth (%.1f GB/s)\n", decode, ms, gbs, 100 * gbs / bw, bw
        printf "memory: peak RSS %.2f GB", rss
        if (time_rss > 0) printf " (time -v: %.2f GB)", time_rss
        printf " for %.2f GB of weights, %+.1f%%\n", weights, 100 * (rss / weights - 1)
    }' "$runs_log"
rm -f "$stream_log" "$runs_log" "$runs_log.time"
