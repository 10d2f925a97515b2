/* vf_fuzz_replay.c - standalone driver for the harnesses: feeds every file named on the command line,
 * and every regular file directly inside a directory named there (sorted, dot-files skipped), to
 * LLVMFuzzerTestOneInput. Used by ctest to replay the corpora in the gcc and ASan builds, and by hand
 * to reproduce a crash: `fuzz_replay_NAME crash-FILE`. Exit 0 when every input ran; 1 when an argument
 * cannot be read or a directory holds no input (a misconfigured corpus must not pass silently). */
#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "vf_fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    /* An exact-size copy, so ASan flags a read one byte past the input as libFuzzer would. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the regular files of dir; *count is increased by the number run. */
static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot list %s\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = 1;
                break;
            }
            names = nn;
        }
        size_t sz = strlen(dir) + strlen(de->d_name) + 2;
        if (!(names[n] = malloc(sz))) {
            rc = 1;
            break;
        }
        snprintf(names[n++], sz, "%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            rc = run_file(names[i]);
            ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        size_t count = 0;
        int rc;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = run_dir(argv[i], &count);
            if (rc == 0 && count == 0) {
                fprintf(stderr, "replay: %s holds no input\n", argv[i]);
                return 1;
            }
        } else {
            rc = run_file(argv[i]);
            count = 1;
        }
        if (rc != 0)
            return rc;
        printf("replay: %zu input(s) from %s\n", count, argv[i]);
        total += count;
    }
    printf("replay: %zu input(s) ran without a crash or a broken invariant\n", total);
    return 0;
}
