/* fuzz_index.c - libFuzzer target for the model.safetensors.index.json parser (vf_index_parse, from
 * bytes). Accepted indexes must hold sorted unique tensor names, sorted unique shard names that are
 * plain file names, valid shard references, and vf_index_find must find every entry; the in-place
 * parse (vf_index_parse_in_place, names ended in a copy of the input) must give the same status,
 * error and tables. */
#include <stdlib.h>
#include <string.h>

#include "vf_fuzz.h"
#include "vf_format_internal.h"

static void check_index(const vf_index *ix)
{
    for (size_t i = 0; i < ix->count; i++) {
        const vf_index_entry *e = &ix->entries[i];
        VF_FUZZ_CHECK(e->tensor && e->shard < ix->shard_count);
        VF_FUZZ_CHECK(i == 0 || strcmp(ix->entries[i - 1].tensor, e->tensor) < 0);
        VF_FUZZ_CHECK(vf_index_find(ix, e->tensor) == (long)i);
    }
    VF_FUZZ_CHECK(ix->shard_count <= ix->count);
    for (size_t s = 0; s < ix->shard_count; s++) {
        VF_FUZZ_CHECK(vf_safe_file_name(ix->shards[s]));
        VF_FUZZ_CHECK(s == 0 || strcmp(ix->shards[s - 1], ix->shards[s]) < 0);
    }
}

/* The in-place parse of a copy of data against the copying parse's result (rc, err, ix). */
static void check_in_place(const uint8_t *data, size_t size, int rc, const vf_error *err, const vf_index *ix)
{
    uint8_t *copy = malloc(size ? size : 1);
    VF_FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    vf_index iy;
    vf_error e2;
    vf_fuzz_error_init(&e2);
    int rc2 = vf_index_parse_in_place(copy, size, "model.safetensors.index.json", &iy, &e2);
    VF_FUZZ_CHECK(rc2 == rc); /* on success err is left as vf_fuzz_error_init filled it */
    VF_FUZZ_CHECK(rc == VF_OK || (e2.code == err->code && strcmp(e2.message, err->message) == 0 &&
                                  strcmp(e2.tensor, err->tensor) == 0));
    if (rc2 == VF_OK) {
        VF_FUZZ_CHECK(iy.count == ix->count && iy.shard_count == ix->shard_count &&
                      iy.has_total == ix->has_total && iy.total_size == ix->total_size);
        for (size_t i = 0; i < iy.count; i++)
            VF_FUZZ_CHECK(strcmp(iy.entries[i].tensor, ix->entries[i].tensor) == 0 &&
                          iy.entries[i].shard == ix->entries[i].shard);
        vf_index_free(&iy);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vf_index ix;
    vf_error err;
    vf_fuzz_error_init(&err);
    int rc = vf_index_parse(data, size, "model.safetensors.index.json", &ix, &err);
    check_in_place(data, size, rc, &err, &ix);
    if (rc != VF_OK) {
        vf_fuzz_check_error(rc, &err, "dm");
        VF_FUZZ_CHECK(ix.entries == NULL && ix.count == 0);
        return 0;
    }
    check_index(&ix);
    vf_index_free(&ix);
    return 0;
}
