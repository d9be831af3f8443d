/* The Vulkan backend on every reference model and prompt through the qwen3vk command (needs
 * QWEN3VK_REFERENCE_DIR); the same checks as the CPU backend's reference test. */
#include "model_check.h"
#include "vulkan_test_util.h"

static const char *reference;

static void check_case(const char *model, const char *prompt)
{
    char model_dir[4096], golden_dir[4096];
    snprintf(model_dir, sizeof(model_dir), "%s/models/%s", reference, model);
    snprintf(golden_dir, sizeof(golden_dir), "%s/reference/goldens/%s", reference, model);
    check_model("vulkan", model_dir, golden_dir, prompt, "");
}

static void tied_user_plain(void) { check_case("qwen3-tiny", "user_plain"); }
static void tied_system_user(void) { check_case("qwen3-tiny", "system_user"); }
static void untied_sharded_user_plain(void)
{
    check_case("qwen3-tiny-untied-sharded", "user_plain");
}

int main(void)
{
    reference = test_reference_dir_or_skip();
    vulkan_require_device();
    RUN_TEST(tied_user_plain);
    RUN_TEST(tied_system_user);
    RUN_TEST(untied_sharded_user_plain);
    return test_finish();
}
