/* A minimal test harness: each tests/test_*.c is one ctest executable whose main() calls
 * RUN_TEST for each case and returns test_finish(). Failed checks print file:line and the
 * values; exit status 77 means skipped. */
#ifndef QWEN3VK_TEST_H
#define QWEN3VK_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_current = "";

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        test_checks++;                                                                     \
        if (!(cond)) {                                                                     \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__,           \
                    test_current, #cond);                                                  \
        }                                                                                  \
    } while (0)

#define CHECK_INT_EQ(actual, expected)                                                     \
    do {                                                                                   \
        long long test_a_ = (long long)(actual), test_e_ = (long long)(expected);          \
        test_checks++;                                                                     \
        if (test_a_ != test_e_) {                                                          \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: %s: %s is %lld, expected %lld\n", __FILE__, __LINE__,  \
                    test_current, #actual, test_a_, test_e_);                              \
        }                                                                                  \
    } while (0)

#define CHECK_STR_EQ(actual, expected)                                                     \
    do {                                                                                   \
        const char *test_a_ = (actual), *test_e_ = (expected);                             \
        test_checks++;                                                                     \
        if (!test_a_ || strcmp(test_a_, test_e_) != 0) {                                   \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: %s: %s is \"%s\", expected \"%s\"\n", __FILE__,         \
                    __LINE__, test_current, #actual, test_a_ ? test_a_ : "(null)", test_e_); \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                            \
    do {                                                                                   \
        double test_a_ = (actual), test_e_ = (expected);                                   \
        test_checks++;                                                                     \
        if (!(fabs(test_a_ - test_e_) <= (tolerance))) {                                   \
            test_failures++;                                                               \
            fprintf(stderr, "%s:%d: %s: %s is %.9g, expected %.9g within %g\n", __FILE__,  \
                    __LINE__, test_current, #actual, test_a_, test_e_, (double)(tolerance)); \
        }                                                                                  \
    } while (0)

#define RUN_TEST(fn)                                                                       \
    do {                                                                                   \
        int test_before_ = test_failures;                                                  \
        test_current = #fn;                                                                \
        fn();                                                                              \
        printf("%s %s\n", test_failures == test_before_ ? "ok  " : "FAIL", #fn);           \
    } while (0)

#define TEST_SKIP_STATUS 77

static inline int test_finish(void)
{
    printf("%d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

/* The folder of the bundled test data (tests/data), set by ctest. */
static inline const char *test_data_dir(void)
{
    const char *dir = getenv("QWEN3VK_TEST_DATA");
    return dir ? dir : "tests/data";
}

/* The larger reference data (models and goldens), found through QWEN3VK_REFERENCE_DIR.
 * Exits with the skip status when it is not set or not there. */
static inline const char *test_reference_dir_or_skip(void)
{
    const char *dir = getenv("QWEN3VK_REFERENCE_DIR");
    char probe[4096];
    FILE *file;

    if (dir && *dir) {
        snprintf(probe, sizeof(probe), "%s/reference/README.md", dir);
        file = fopen(probe, "r");
        if (file) {
            fclose(file);
            return dir;
        }
    }
    printf("skipped: reference data not found (set QWEN3VK_REFERENCE_DIR to the folder that "
           "holds models/ and reference/)\n");
    exit(TEST_SKIP_STATUS);
}

#endif
