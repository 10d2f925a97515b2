/* fuzz_index.c - libFuzzer target for the model.safetensors.index.json parser (vf_index_parse, from
 * bytes). Accepted indexes must hold sorted unique tensor names, sorted unique shard names that are
 * plain file names, valid shard references, and vf_index_find must find every entry. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vf_index ix;
    vf_error err;
    vf_fuzz_error_init(&err);
    int rc = vf_index_parse(data, size, "model.safetensors.index.json", &ix, &err);
    if (rc != VF_OK) {
        vf_fuzz_check_error(rc, &err, "dm");
        VF_FUZZ_CHECK(ix.entries == NULL && ix.count == 0);
        return 0;
    }
    check_index(&ix);
    vf_index_free(&ix);
    return 0;
}
