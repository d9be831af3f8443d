#!/usr/bin/env bash
# The qwen3vk command as a user runs it on the bundled tiny model: run (streamed and --json),
# tokenize, template, and clear errors for bad input.
set -u
bin=${QWEN3VK_BIN:?QWEN3VK_BIN must name the qwen3vk binary}
model=${QWEN3VK_TEST_DATA:?}/qwen3-tiny
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passed=0

check() { # check NAME CONDITION...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failures=$((failures + 1))
        echo "FAIL: $name"
    fi
}

# Streaming run with thinking: the reasoning is framed apart from the answer; stats on stderr.
"$bin" run -m "$model" --backend cpu -n 24 --seed 3 --think "What is 2+2?" >"$work/out" 2>"$work/err"
check "run exits 0" test $? -eq 0
check "run prints a stats line" grep -q "generated: 24 tokens" "$work/err"

# --json: one object with the documented keys.
"$bin" run -m "$model" --backend cpu -n 16 --seed 3 --json --no-think "Hello" >"$work/json" 2>/dev/null
check "run --json exits 0" test $? -eq 0
for key in reasoning_content content tool_calls usage timings finish_reason; do
    check "run --json has $key" grep -q "\"$key\"" "$work/json"
done
check "no-think output has no reasoning" grep -q '"reasoning_content":""' "$work/json"

# --think opens the think block and --think-budget closes it: both parts are present.
"$bin" run -m "$model" --backend cpu -n 20 --seed 3 --json --think --think-budget 8 "Hello" >"$work/json" 2>/dev/null
check "think budget gives reasoning" grep -vq '"reasoning_content":""' "$work/json"
check "think budget gives content" grep -vq '"content":""' "$work/json"
"$bin" run -m "$model" --backend cpu -n 20 --seed 3 --think --think-budget 8 "Hello" >"$work/out" 2>/dev/null
check "reasoning is framed" grep -q "done thinking" "$work/out"

# Reasoning that -n cuts off is not framed as finished.
"$bin" run -m "$model" --backend cpu -n 5 --seed 3 --think "Hi" >"$work/out" 2>/dev/null
check "cut reasoning says so" grep -q "thinking cut off at the token limit (-n 5)" "$work/out"
check "cut reasoning is not done" test "$(grep -c "done thinking" "$work/out")" -eq 0

# A warning while the reply is mid-line, with both streams in one file, starts a line of its own.
"$bin" run -m "$model" --backend cpu --ctx 14 -n 30 --seed 3 --think "Hi" >"$work/out" 2>&1
check "context full warning starts a line" grep -q "^qwen3vk warn: the context of 14 tokens is full" "$work/out"
check "context full cuts the reasoning" grep -q "thinking cut off: the context is full" "$work/out"

# The decode speed leaves out the first token, which the prompt step produces. Without a
# decode step there is no speed.
"$bin" run -m "$model" --backend cpu -n 1 --seed 3 --no-think "Hi" >/dev/null 2>"$work/err"
check "one token has no decode speed" grep -q "generated: 1 token, finish" "$work/err"
"$bin" run -m "$model" --backend cpu -n 1 --seed 3 --json --no-think "Hi" >"$work/json" 2>/dev/null
check "one token has no predicted tokens" grep -q '"predicted_n":0,' "$work/json"
check "one token has no predicted speed" grep -q '"predicted_per_second":null' "$work/json"
"$bin" run -m "$model" --backend cpu -n 6 --seed 3 --json --no-think "Hi" >"$work/json" 2>/dev/null
completion=$(sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p' "$work/json")
predicted=$(sed -n 's/.*"predicted_n":\([0-9]*\).*/\1/p' "$work/json")
check "predicted tokens exclude the first" test "$predicted" -eq "$((completion - 1))"
check "predicted speed is a number" grep -q '"predicted_per_second":[0-9]' "$work/json"

# --print-ids prints the generated ids in place of the text.
"$bin" run -m "$model" --backend cpu -n 3 --seed 3 --print-ids "Hi" >"$work/out" 2>/dev/null
check "print-ids prints ids" grep -qx '[0-9]*,[0-9]*,[0-9]*' "$work/out"

# --tokens continues the ids greedily, so --temp 0 is allowed with it.
check "tokens with temp 0" test "$("$bin" run -m "$model" --backend cpu --tokens 100,200 -n 3 --temp 0 2>/dev/null | tr , '\n' | wc -l)" -eq 3

# chat: history across turns (the second turn reuses the cached prompt), the thinking switches,
# /reset and /exit.
printf 'Hi\n/no_think\nAnd then?\n/reset\n/think\nHello\n/exit\n' |
    "$bin" chat -m "$model" --backend cpu -n 6 --seed 2 >"$work/chat" 2>"$work/chat.err"
check "chat exits 0" test $? -eq 0
check "chat answers three turns" test "$(grep -c "generated: 6 tokens" "$work/chat.err")" -eq 3
check "chat reuses the cached history" grep -q "prompt: [0-9]* tokens ([0-9]* new" "$work/chat.err"
check "chat switches thinking off" grep -q "thinking off" "$work/chat.err"
check "chat clears history" grep -q "history cleared" "$work/chat.err"

# chat: a line with a NUL byte or invalid UTF-8 is rejected and the chat goes on.
printf 'a\0b\nhi\xff\nHello\n' |
    "$bin" chat -m "$model" --backend cpu -n 2 --seed 2 >/dev/null 2>"$work/chat.err"
check "chat with bad lines exits 0" test $? -eq 0
check "chat rejects a NUL byte" grep -q "the message contains a NUL byte at byte 1" "$work/chat.err"
check "chat rejects invalid UTF-8" grep -q "the message is not valid UTF-8 (byte 2 is 0xFF)" "$work/chat.err"
check "chat answers after bad lines" test "$(grep -c "generated: 2 tokens" "$work/chat.err")" -eq 1

# chat: when the history fills the context, the message points to /reset.
printf 'Hello there\nAgain\n' |
    "$bin" chat -m "$model" --backend cpu --ctx 40 -n 30 --seed 1 --no-think >/dev/null 2>"$work/chat.err"
check "full chat suggests /reset" grep -q "/reset clears it" "$work/chat.err"

# chat: commands allow trailing spaces, unknown ones are named, and "//" sends a message that
# begins with "/".
printf '/usr/bin?\n//usr/bin?\n/exit  \nnot sent\n' |
    "$bin" chat -m "$model" --backend cpu -n 2 --seed 2 >/dev/null 2>"$work/chat.err"
check "chat with slash lines exits 0" test $? -eq 0
check "chat names an unknown command" grep -q "unknown command /usr/bin?" "$work/chat.err"
check "chat sends a // message" test "$(grep -c "generated: 2 tokens" "$work/chat.err")" -eq 1

# chat: Ctrl-C (SIGINT) stops a long reply, and the chat goes on to its next prompt.
(printf 'Hello\n'; sleep 3) |
    "$bin" chat -m "$model" --backend cpu -n 3000 --seed 1 --no-think >/dev/null 2>"$work/chat.err" &
chat_pid=$!
for _ in $(seq 100); do
    grep -q "^chat with" "$work/chat.err" 2>/dev/null && break
    sleep 0.1
done
sleep 1
kill -INT "$chat_pid" 2>/dev/null
wait "$chat_pid"
check "interrupted chat exits 0" test $? -eq 0
check "chat reports the interrupt" grep -q "reply interrupted" "$work/chat.err"
check "chat prompts again after an interrupt" test "$(grep -o ">>> " "$work/chat.err" | wc -l)" -eq 2

# tokenize: ids as a JSON array, identical to the Hugging Face tokenizer's.
printf 'Hello world' | "$bin" tokenize -m "$model" >"$work/ids" 2>/dev/null
check "tokenize prints ids" grep -qx '\[9707, 1879\]' "$work/ids"

# template: an OpenAI-style request rendered with the model's template.
echo '{"messages":[{"role":"user","content":"Hi"}],"add_generation_prompt":true,"chat_template_kwargs":{"enable_thinking":false}}' |
    "$bin" template -m "$model" >"$work/prompt" 2>/dev/null
printf '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n' >"$work/expected"
check "template renders the prompt" cmp -s "$work/prompt" "$work/expected"

# Content given as a list of text parts, as OpenAI clients may send it.
echo '{"messages":[{"role":"user","content":[{"type":"text","text":"H"},{"type":"text","text":"i"}]}],"add_generation_prompt":true,"chat_template_kwargs":{"enable_thinking":false}}' |
    "$bin" template -m "$model" >"$work/prompt" 2>/dev/null
check "template joins text parts" cmp -s "$work/prompt" "$work/expected"

# tokenize takes the text as an argument too; help goes to stdout; the version is printed.
check "tokenize takes an argument" test "$("$bin" tokenize -m "$model" "Hello world" 2>/dev/null)" = "[9707, 1879]"
check "help goes to stdout" bash -c "'$bin' --help | grep -q 'qwen3vk COMMAND'"
check "version is printed" bash -c "'$bin' --version | grep -q '^qwen3vk [0-9]'"

# Bad input: a clear one-line error and a non-zero status, never a crash (status > 128).
expect_error() { # expect_error NAME PATTERN COMMAND...
    local name=$1 pattern=$2
    shift 2
    "$@" >"$work/bad.out" 2>"$work/bad.err" </dev/null
    local status=$?
    check "$name fails" test "$status" -ne 0
    check "$name does not crash" test "$status" -lt 128
    check "$name names the problem" grep -q -e "$pattern" "$work/bad.err"
}
expect_error "invalid UTF-8 prompt" "UTF-8" "$bin" run -m "$model" --backend cpu "$(printf 'caf\xc3')"
expect_error "prompt longer than the context" "context" "$bin" run -m "$model" --backend cpu --ctx 8 "a long prompt that does not fit eight tokens of context"
expect_error "missing model folder" "$work/none" "$bin" run -m "$work/none" --backend cpu "Hi"
expect_error "unknown backend" "backend" "$bin" run -m "$model" --backend tpu "Hi"
expect_error "bad temperature" "invalid --temp" "$bin" run -m "$model" --backend cpu --temp -1 "Hi"
expect_error "bad top-p" "invalid --top-p" "$bin" run -m "$model" --backend cpu --top-p 5 "Hi"
expect_error "negative seed" "invalid --seed" "$bin" run -m "$model" --backend cpu --seed -1 "Hi"
expect_error "unknown option" "unknown option --bogus" "$bin" run --bogus
expect_error "missing model option" "missing -m" "$bin" run "Hi"
expect_error "tokens and prompt" "either --tokens or a prompt" "$bin" run -m "$model" --tokens 1,2 "Hi"
expect_error "invalid UTF-8 system text" "the --system text is not valid UTF-8" "$bin" run -m "$model" --system "$(printf '\xc3')" "Hi"
expect_error "empty messages" "non-empty \"messages\"" bash -c "echo '{\"messages\":[]}' | '$bin' template -m '$model'"
expect_error "message without role" "message 0 has no string \"role\"" bash -c "echo '{\"messages\":[{\"content\":\"x\"}]}' | '$bin' template -m '$model'"
expect_error "image content part" "image_url" bash -c "echo '{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}' | '$bin' template -m '$model'"
expect_error "template syntax error" "line" bash -c "echo '{% if %}' > '$work/t.jinja'; echo '{\"messages\":[]}' | '$bin' template -m '$model' --template '$work/t.jinja'"
expect_error "NUL in message content" "NUL character" bash -c "printf '%s' '{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}' | '$bin' template -m '$model'"
expect_error "request not JSON" "JSON" bash -c "echo 'not json' | '$bin' template -m '$model'"
expect_error "unknown command" "unknown command" "$bin" frobnicate
expect_error "invalid UTF-8 on tokenize stdin" "UTF-8" bash -c "printf 'hi\\xff' | '$bin' tokenize -m '$model'"
expect_error "invalid UTF-8 stop text" "the --stop text is not valid UTF-8" "$bin" run -m "$model" --stop "$(printf 'x\xff')" "Hi"
expect_error "tokens with temp" "--temp does not apply to --tokens" "$bin" run -m "$model" --tokens 100,200 --temp 1.5
expect_error "tokens with json" "--json does not apply to --tokens" "$bin" run -m "$model" --tokens 100,200 --json
expect_error "tokens with stop" "--stop does not apply to --tokens" "$bin" run -m "$model" --tokens 100,200 --stop x
expect_error "logits with temp" "--temp does not apply to logits" "$bin" logits -m "$model" --tokens 100,200 --out "$work/l.bin" --temp 0.7
expect_error "logits with n" "--n-predict does not apply to logits" "$bin" logits -m "$model" --tokens 100,200 --out "$work/l.bin" -n 4
expect_error "think and no-think" "--think and --no-think" "$bin" run -m "$model" --think --no-think "Hi"
expect_error "print-ids and json" "--print-ids and --json" "$bin" run -m "$model" --print-ids --json "Hi"
expect_error "device with the CPU backend" "does not apply to --backend cpu" "$bin" run -m "$model" --backend cpu --device 0 "Hi"
check "tokens with temp is a usage error" test "$("$bin" run -m "$model" --tokens 1 -n 2 --temp 1 >/dev/null 2>&1; echo $?)" -eq 2

# A full output is an error, not a success.
if [ -w /dev/full ]; then
    expect_error "run to a full output" "cannot write the output: No space left" bash -c "'$bin' run -m '$model' --backend cpu -n 2 Hi >/dev/full"
    expect_error "json to a full output" "cannot write the output" bash -c "'$bin' run -m '$model' --backend cpu -n 2 --json Hi >/dev/full"
    expect_error "tokenize to a full output" "cannot write the output" bash -c "'$bin' tokenize -m '$model' Hi >/dev/full"
    expect_error "help to a full output" "cannot write the output" bash -c "'$bin' --help >/dev/full"
fi

# Without any Vulkan driver, auto falls back to the CPU with the reason, and an explicit
# --backend vulkan fails.
VK_ICD_FILENAMES=$work/none.json VK_DRIVER_FILES=$work/none.json \
    "$bin" run -m "$model" -n 4 --seed 1 "Hi" >/dev/null 2>"$work/err"
check "auto without Vulkan exits 0" test $? -eq 0
if "$bin" devices >/dev/null 2>&1; then
    check "auto says why it uses the CPU" grep -q "falling back to the CPU backend: no Vulkan driver" "$work/err"
    expect_error "vulkan without a driver" "no Vulkan driver" env VK_ICD_FILENAMES="$work/none.json" \
        VK_DRIVER_FILES="$work/none.json" "$bin" run -m "$model" --backend vulkan "Hi"
fi

echo "$passed passed, $failures failed"
test "$failures" -eq 0
