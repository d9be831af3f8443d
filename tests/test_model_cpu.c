/* The CPU backend on the bundled tiny model against the reference logits and greedy ids. */
#include <dirent.h>
#include <stdlib.h>

#include "model_check.h"

/* Write dir/model.safetensors as a copy of source with one more space in the header, so that
 * the data section starts at an odd byte offset, and link every other file of the source
 * folder. Returns 1 on success. */
static int unaligned_copy_create(const char *source, const char *dir)
{
    char path[8448], target[8448];
    char *bytes = NULL;
    size_t size = 0;
    uint64_t header_length = 0;
    FILE *file;
    DIR *listing;
    struct dirent *entry;
    int ok;

    snprintf(path, sizeof(path), "%s/model.safetensors", source);
    if (qvk_file_read(path, &bytes, &size) != QVK_OK || size < 8)
        return 0;
    for (int i = 0; i < 8; i++)
        header_length |= (uint64_t)(uint8_t)bytes[i] << (8 * i);
    header_length++;
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    file = fopen(path, "wb");
    ok = file != NULL;
    for (int i = 0; ok && i < 8; i++)
        ok = fputc((int)((header_length >> (8 * i)) & 0xff), file) != EOF;
    /* The header, one space, then the data section. */
    ok = ok && fwrite(bytes + 8, 1, (size_t)header_length - 1, file) == header_length - 1;
    ok = ok && fputc(' ', file) != EOF;
    ok = ok && fwrite(bytes + 7 + header_length, 1, size - 7 - header_length, file) ==
                   size - 7 - header_length;
    if (file)
        ok = fclose(file) == 0 && ok;
    free(bytes);

    listing = opendir(source);
    while (ok && listing && (entry = readdir(listing))) {
        if (entry->d_name[0] == '.' || strcmp(entry->d_name, "model.safetensors") == 0)
            continue;
        snprintf(target, sizeof(target), "%s/%s", source, entry->d_name);
        snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
        ok = symlink(target, path) == 0;
    }
    if (listing)
        closedir(listing);
    return ok && listing;
}

static void bundled_tiny_model(void)
{
    char model[4096], goldens[4096];
    snprintf(model, sizeof(model), "%s/qwen3-tiny", test_data_dir());
    snprintf(goldens, sizeof(goldens), "%s/goldens", test_data_dir());
    check_model("cpu", model, goldens, "user_plain", "");
}

static void bundled_tiny_model_small_batches(void)
{
    char model[4096], goldens[4096];
    snprintf(model, sizeof(model), "%s/qwen3-tiny", test_data_dir());
    snprintf(goldens, sizeof(goldens), "%s/goldens", test_data_dir());
    /* 15 prompt tokens in steps of 4: the KV cache carries across steps. */
    check_model("cpu", model, goldens, "user_plain", "--batch 4 --threads 1");
}

/* A header without padding leaves the BF16 data at an odd file offset. The loader copies the
 * data section into aligned memory, and the logits still match the reference. */
static void unaligned_data_section(void)
{
    char source[4096], goldens[4096], dir[] = "/tmp/qwen3vk-unaligned-XXXXXX", command[8300];

    snprintf(source, sizeof(source), "%s/qwen3-tiny", test_data_dir());
    snprintf(goldens, sizeof(goldens), "%s/goldens", test_data_dir());
    CHECK(mkdtemp(dir) != NULL);
    CHECK(unaligned_copy_create(source, dir));
    check_model("cpu", dir, goldens, "user_plain", "");
    snprintf(command, sizeof(command), "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(command), 0);
}

int main(void)
{
    RUN_TEST(bundled_tiny_model);
    RUN_TEST(bundled_tiny_model_small_batches);
    RUN_TEST(unaligned_data_section);
    return test_finish();
}
