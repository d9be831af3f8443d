#!/bin/sh
# Build qwen3vk twice, plainly and with AddressSanitizer + UndefinedBehaviorSanitizer, and run
# the whole test suite on each. Vulkan tests run on the first Vulkan device (lavapipe on a
# machine without a GPU) with the validation layers on. Tests that need the larger reference
# data run when QWEN3VK_REFERENCE_DIR names the folder holding models/ and reference/.
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DQWEN3VK_SANITIZE=ON >/dev/null
cmake --build build-sanitize -j "$jobs"
(cd build-sanitize && ctest --output-on-failure -j "$jobs")
