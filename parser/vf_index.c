/* vf_index.c - parser of model.safetensors.index.json: weight_map and metadata.total_size.
 * Shard names come from the file and are rejected unless they are plain file names. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "vf_internal.h"

void vf_index_free(vf_index *ix)
{
    if (!ix)
        return;
    vf_arena_free(&ix->strings);
    free(ix->entries);
    free(ix->shards);
    memset(ix, 0, sizeof *ix);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collects the sorted unique shard names and points every entry at its shard. */
static int collect_shards(vf_index *ix, const char **entry_shard, const char *file, vf_error *err)
{
    const char **names = malloc((ix->count ? ix->count : 1) * sizeof *names);
    if (!names)
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    memcpy(names, entry_shard, ix->count * sizeof *names);
    qsort(names, ix->count, sizeof *names, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < ix->count; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
            names[u++] = names[i];
    ix->shards = names;
    ix->shard_count = u;
    for (size_t i = 0; i < ix->count; i++) {
        const char **hit = bsearch(&entry_shard[i], names, u, sizeof *names, cmp_str);
        ix->entries[i].shard = (uint32_t)(hit - names);
    }
    return VF_OK;
}

static int parse_total(vf_index *ix, const cJSON *root, const char *file, vf_error *err)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (!meta || cJSON_IsNull(meta))
        return VF_OK;
    if (!cJSON_IsObject(meta))
        return vf_error_set(err, VF_ERR_INDEX, file, "metadata", "\"metadata\" is not an object");
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
    if (!total || cJSON_IsNull(total))
        return VF_OK;
    if (!vf_cjson_u64(total, &ix->total_size))
        return vf_error_set(err, VF_ERR_INDEX, file, "metadata.total_size",
                            "total_size is not a non-negative integer <= 2^53");
    ix->has_total = true;
    return VF_OK;
}

static int parse_weight_map(vf_index *ix, const cJSON *wm, const char **entry_shard, const char *file,
                            vf_error *err)
{
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return vf_error_set(err, VF_ERR_INDEX, file, e->string, "weight_map value is not a string");
        if (!vf_safe_file_name(e->valuestring))
            return vf_error_set(err, VF_ERR_UNSAFE_PATH, file, e->string,
                                "shard file name \"%.200s\" is not a plain file name (absolute, "
                                "path separator or ..)",
                                e->valuestring);
        vf_index_entry *ent = &ix->entries[ix->count];
        ent->tensor = vf_arena_strdup(&ix->strings, e->string);
        entry_shard[ix->count] = vf_arena_strdup(&ix->strings, e->valuestring);
        if (!ent->tensor || !entry_shard[ix->count])
            return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
        ix->count++;
    }
    return VF_OK;
}

static int sort_entries(vf_index *ix, const char *file, vf_error *err)
{
    uint32_t *order = malloc((ix->count ? ix->count : 1) * sizeof *order);
    vf_index_entry *sorted = malloc((ix->count ? ix->count : 1) * sizeof *sorted);
    if (!order || !sorted) {
        free(order);
        free(sorted);
        return vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    }
    for (size_t i = 0; i < ix->count; i++)
        order[i] = (uint32_t)i;
    vf_sort_u32_by_name(order, ix->count, ix->entries, sizeof *ix->entries,
                        offsetof(vf_index_entry, tensor));
    for (size_t i = 0; i < ix->count; i++)
        sorted[i] = ix->entries[order[i]];
    free(order);
    free(ix->entries);
    ix->entries = sorted;
    for (size_t i = 1; i < ix->count; i++)
        if (strcmp(sorted[i - 1].tensor, sorted[i].tensor) == 0)
            return vf_error_set(err, VF_ERR_DUPLICATE, file, sorted[i].tensor,
                                "weight_map names the tensor more than once");
    return VF_OK;
}

static int parse_root(vf_index *ix, const cJSON *root, const char *file, vf_error *err)
{
    if (!cJSON_IsObject(root))
        return vf_error_set(err, VF_ERR_INDEX, file, NULL, "index is not a JSON object");
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm))
        return vf_error_set(err, VF_ERR_INDEX, file, NULL, "index has no \"weight_map\" object");
    int rc = parse_total(ix, root, file, err);
    if (rc != VF_OK)
        return rc;
    size_t n = (size_t)cJSON_GetArraySize(wm);
    if (n > UINT32_MAX)
        return vf_error_set(err, VF_ERR_INDEX, file, NULL, "weight_map is too large");
    ix->entries = calloc(n ? n : 1, sizeof *ix->entries);
    const char **entry_shard = calloc(n ? n : 1, sizeof *entry_shard);
    rc = ix->entries && entry_shard ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, file, NULL, "out of memory");
    if (rc == VF_OK)
        rc = parse_weight_map(ix, wm, entry_shard, file, err);
    if (rc == VF_OK)
        rc = collect_shards(ix, entry_shard, file, err);
    free(entry_shard);
    if (rc == VF_OK)
        rc = sort_entries(ix, file, err);
    return rc;
}

int vf_index_parse(const uint8_t *json, size_t len, const char *file, vf_index *out, vf_error *err)
{
    memset(out, 0, sizeof *out);
    vf_arena_init(&out->strings, len + 64);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)json, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - (const char *)json) : 0;
        return vf_error_set(err, VF_ERR_INDEX, file, NULL, "not valid JSON (near byte %zu)", at);
    }
    int rc = parse_root(out, root, file, err);
    cJSON_Delete(root);
    if (rc != VF_OK)
        vf_index_free(out);
    return rc;
}

long vf_index_find(const vf_index *ix, const char *tensor)
{
    size_t lo = 0, hi = ix->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix->entries[mid].tensor, tensor);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}
