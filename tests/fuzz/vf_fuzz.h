/* vf_fuzz.h - shared by the libFuzzer harnesses in tests/fuzz and their standalone replay driver.
 *
 * Every harness is one file defining LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a fuzzer (VF_FUZZ=ON); linked with vf_fuzz_replay.c it is an ordinary
 * program that feeds a corpus to the same function, which is how ctest replays the corpora with gcc
 * and under the ASan build. Harnesses check invariants with VF_FUZZ_CHECK, which aborts, so a logic
 * bug is a crash the fuzzer keeps, not only a memory error. */
#ifndef VF_FUZZ_H
#define VF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vramfit/vf_error.h"

/* The libFuzzer entry point each harness defines. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VF_FUZZ_CHECK(cond)                                                                          \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);             \
            abort();                                                                                 \
        }                                                                                            \
    } while (0)

/* Poisons an error record so that a field the library forgets to fill is visible. */
void vf_fuzz_error_init(vf_error *err);

/* Checks the error contract after a failed call: rc is a known negative status of one of the
 * classes in `classes` (e.g. "dm": invalid data or memory), err->code == rc, the message is set,
 * every field is NUL-terminated and the formatted error is one line. */
void vf_fuzz_check_error(int rc, const vf_error *err, const char *classes);

#endif
