#!/bin/sh
# Vulkan benchmark of qwen3vk on a Qwen3-4B-shaped model, beside the CPU backend on the same
# machine. The script builds qwen3vk and the benchmark programs and writes the model (random bf16
# weights, 8.04 GB) if it is absent. Each round runs, one after the other:
#   - qwen3vk run --backend vulkan --profile: a --prompt-token prompt as one step, then --decode
#     decode steps, with per-step GPU and CPU times, dispatches, barriers and start-up times.
#     The first round starts with an empty pipeline cache (cold), the others with the one it
#     saved (warm);
#   - bench_cpu on the same model and token counts, for the CPU backend's figures.
# It prints every run's lines and then the best figures of each backend.
#
#     bench/vulkan.sh [--model DIR] [--build DIR] [--device N] [--prompt N] [--decode N]
#                     [--runs N]
#
# Defaults: --model /tmp/qwen3-4b-random, --build build-bench-vulkan (under the repository),
# --device: the first Vulkan device, --prompt 64, --decode 8, --runs 3. On lavapipe one round
# took about a minute on a 2-core VM.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
model=/tmp/qwen3-4b-random
build=$root/build-bench-vulkan
device=0
prompt=64
decode=8
runs=3

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
        --model) model=$2 ;;
        --build) build=$2 ;;
        --device) device=$2 ;;
        --prompt) prompt=$2 ;;
        --decode) decode=$2 ;;
        --runs) runs=$2 ;;
        *) usage ;;
    esac
    shift 2
done

case $runs in
    '' | *[!0-9]* | 0) echo "bench/vulkan.sh: --runs must be a whole number of 1 or more" >&2; exit 2 ;;
esac

echo "== build ($build)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
make -C "$build" -j2 --no-print-directory qwen3vk_cli make_model bench_cpu >/dev/null

if [ ! -f "$model/config.json" ]; then
    echo "== writing the model to $model"
    "$build/bench/make_model" "$model" "$root/tests/data/qwen3-tiny"
fi

echo "== machine"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
echo "cores: $(nproc), memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
"$build/qwen3vk" devices 2>/dev/null | sed -n "/^\[$device\]/,+2p"

# Token ids 100 .. 100 + prompt - 1: the random model gives every token the same cost.
tokens=$(seq -s, 100 $((100 + prompt - 1)))
cache=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$cache" "$log" "$log.time" "$log.cpu"' EXIT

run=1
while [ "$run" -le "$runs" ]; do
    echo "== round $run: load average $(cut -d' ' -f1-3 /proc/loadavg)"
    if ! XDG_CACHE_HOME=$cache /usr/bin/time -v "$build/qwen3vk" run -m "$model" \
        --backend vulkan --device "$device" --tokens "$tokens" -n $((decode + 1)) --temp 0 \
        --print-ids --profile --log-level warn >/dev/null 2>"$log.time"; then
        grep -v '^[[:space:]]' "$log.time" >&2
        echo "bench/vulkan.sh: the Vulkan run failed" >&2
        exit 1
    fi
    grep -E '^(prompt|decode|startup):' "$log.time" | sed 's/^/vulkan /' | tee -a "$log"
    awk '/Maximum resident/ { printf "vulkan max RSS: %.2f GB\n", $6 * 1024 / 1e9 }' \
        "$log.time" | tee -a "$log"
    if ! "$build/bench/bench_cpu" -m "$model" --prompt "$prompt" --decode "$decode" \
        --repeat 1 >"$log.cpu"; then
        echo "bench/vulkan.sh: the CPU run failed" >&2
        exit 1
    fi
    grep -E '^(prefill|decode):' "$log.cpu" | sed 's/^/cpu /' | tee -a "$log"
    run=$((run + 1))
done

echo "== best of $runs rounds"
awk '
    $1 == "vulkan" && $2 == "prompt:" { v = $5 * 1000 / ($3 * $19); if (v > vk_prompt) vk_prompt = v }
    $1 == "vulkan" && $2 == "decode:" {
        v = 1000 / $19
        if (v > vk_decode) {
            vk_decode = v; dispatches = $11; barriers = $13
            ms = $19 + 0; record = $24 + 0; submit = $28 + 0
        }
    }
    $1 == "vulkan" && $2 == "startup:" {
        pipelines = $4 + 0; cache = $6 " " $7 " " $8
        if (index(cache, "cold")) cold = (cold == "" || pipelines < cold) ? pipelines : cold
        else warm = (warm == "" || pipelines < warm) ? pipelines : warm
        weights = $12 + 0
    }
    $1 == "vulkan" && $2 == "max" { v = $4 + 0; if (v > rss) rss = v }
    $1 == "cpu" && $2 == "prefill:" { v = $9 + 0; if (v > cpu_prompt) cpu_prompt = v }
    $1 == "cpu" && $2 == "decode:" { v = $9 + 0; if (v > cpu_decode) cpu_decode = v }
    END {
        printf "vulkan prompt: %.2f tokens/s (cpu %.2f)\n", vk_prompt, cpu_prompt
        printf "vulkan decode: %.3f tokens/s = %.0f%% of the cpu backend (%.3f tokens/s)\n",
               vk_decode, 100 * vk_decode / cpu_decode, cpu_decode
        printf "per decode token: %s dispatches, %s barriers; CPU %.3f ms recording + %.3f ms " \
               "submitting of %.1f ms (%.2f%%)\n", dispatches, barriers, record, submit, ms,
               100 * (record + submit) / ms
        if (warm == "") warm = "n/a (one round)"
        else warm = warm " ms"
        printf "start-up: pipelines %s ms cold, %s warm; weights ready in %.1f ms\n",
               cold, warm, weights
        printf "vulkan peak RSS: %.2f GB\n", rss
    }' "$log"
