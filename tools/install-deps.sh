#!/bin/sh
# Install the Debian packages qwen3vk needs to build and test, skipping those already present.
set -eu

packages="build-essential cmake pkg-config libcjson-dev libpcre2-dev libutf8proc-dev
libvulkan-dev libvulkan-volk-dev glslang-tools mesa-vulkan-drivers vulkan-validationlayers"

missing=""
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
sudo_prefix=""
[ "$(id -u)" -ne 0 ] && sudo_prefix="sudo"
$sudo_prefix apt-get update -qq
# shellcheck disable=SC2086 # one argument per package
DEBIAN_FRONTEND=noninteractive $sudo_prefix apt-get install -y -qq --no-install-recommends $missing
