#!/bin/sh
# Build qwen3vk and run it on the bundled tiny model (random weights, so the text is noise,
# but every stage runs: chat template, tokenizer, forward pass, sampler, reasoning parser).
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
# Build output goes to stderr, so that stdout holds only the reply.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target qwen3vk_cli >&2
# --think opens the reasoning block, and --think-budget closes it after 24 tokens, so that even
# this random model shows a reasoning part and an answer part.
build/qwen3vk run -m tests/data/qwen3-tiny --think --think-budget 24 -n 48 --seed 1 \
    "${1:-What is the capital of France?}"
