#define _DEFAULT_SOURCE /* realpath */
/* vf_checkpoint.c - resolve PATH (directory, file, index, offline HF cache id), read every shard
 * header, and cross-check shards against the index. */
#define _DEFAULT_SOURCE /* realpath */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "vf_checkpoint_internal.h"
#include "vramfit/vf_checked.h"

#define INDEX_NAME VF_INDEX_NAME

const char *const vf_aux_names[] = {"config.json", "generation_config.json", "adapter_config.json",
                                    INDEX_NAME, NULL};

typedef struct aux_file {
    uint8_t *data;
    size_t len;
    bool present;
} aux_file;

struct vf_checkpoint {
    char *dir;
    char *repo_id, *revision; /* from the HF cache (or a snapshot of it); NULL otherwise */
    char *name;               /* portable name: "ORG/NAME@REVISION", else the directory's base name */
    vf_shard *shards;
    vf_st_header **headers;
    char **names;
    size_t count, cap;
    aux_file aux[sizeof vf_aux_names / sizeof vf_aux_names[0]];
    vf_index index;
    bool has_index, consistent;
    bool one_file; /* opened as one named .safetensors file, not as a directory */
    bool keep_headers; /* VF_OPEN_KEEP_HEADERS: shard headers keep their bytes */
    /* Where a directory's shard headers are built: one arena per reading thread (worker w uses
     * arenas[w] only), in 2 MiB huge-page chunks, so that tens of thousands of tensors' tables and
     * names take a few page faults instead of one per 4 KiB; freed after the headers. */
    vf_arena arenas[VF_PARALLEL_MAX];
    vf_findings *findings;
    char *snapshot_file; /* the .vfsnap file it was read from, or NULL for a directory's files */
    vf_data_store *data; /* small tensor data (vf_tensor_data.c) */
};

/* ---- builder ----------------------------------------------------------------------------------- */

vf_checkpoint *vf_checkpoint_new(const char *dir)
{
    vf_checkpoint *cp = calloc(1, sizeof *cp);
    if (!cp)
        return NULL;
    cp->dir = strdup(dir ? dir : ".");
    for (size_t w = 0; w < VF_PARALLEL_MAX; w++)
        vf_arena_init(&cp->arenas[w], VF_ARENA_HUGE);
    cp->findings = vf_findings_new();
    cp->data = vf_data_store_new();
    cp->consistent = true;
    if (!cp->dir || !cp->findings || !cp->data) {
        vf_checkpoint_free(cp);
        return NULL;
    }
    return cp;
}

void vf_checkpoint_free(vf_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->snapshot_file);
    for (size_t i = 0; i < cp->count; i++) {
        vf_st_header_free(cp->headers[i]);
        free(cp->names[i]);
    }
    for (size_t w = 0; w < VF_PARALLEL_MAX; w++) /* after the headers built in them */
        vf_arena_free(&cp->arenas[w]);
    for (size_t i = 0; vf_aux_names[i]; i++)
        free(cp->aux[i].data);
    free(cp->shards);
    free(cp->headers);
    free(cp->names);
    free(cp->dir);
    free(cp->repo_id);
    free(cp->revision);
    free(cp->name);
    vf_index_free(&cp->index);
    vf_findings_free(cp->findings);
    vf_data_store_free(cp->data);
    free(cp);
}

int vf_checkpoint_add_shard(vf_checkpoint *cp, const char *name, vf_st_header *h, vf_error *err)
{
    if (cp->count == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 8;
        vf_st_header **hs = realloc(cp->headers, cap * sizeof *hs);
        if (hs)
            cp->headers = hs;
        char **ns = hs ? realloc(cp->names, cap * sizeof *ns) : NULL;
        if (ns)
            cp->names = ns;
        if (!hs || !ns) {
            vf_st_header_free(h);
            return vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
        }
        cp->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        vf_st_header_free(h);
        return vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    }
    cp->headers[cp->count] = h;
    cp->names[cp->count] = copy;
    cp->count++;
    return VF_OK;
}

static long aux_slot(const char *name)
{
    for (long i = 0; vf_aux_names[i]; i++)
        if (strcmp(vf_aux_names[i], name) == 0)
            return i;
    return -1;
}

int vf_checkpoint_set_aux(vf_checkpoint *cp, const char *name, const uint8_t *data, size_t len, vf_error *err)
{
    long slot = aux_slot(name);
    if (slot < 0)
        return vf_error_set(err, VF_ERR_UNSUPPORTED, name, NULL, "not an auxiliary file vramfit keeps");
    uint8_t *copy = malloc(len + 1);
    if (!copy)
        return vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    memcpy(copy, data, len);
    copy[len] = 0;
    free(cp->aux[slot].data);
    cp->aux[slot] = (aux_file){copy, len, true};
    return VF_OK;
}

static int cmp_shard(const void *a, const void *b)
{
    return strcmp(((const vf_shard *)a)->name, ((const vf_shard *)b)->name);
}

/* Fills cp->shards sorted by name and reorders the headers/names arrays to match. */
static int sort_shards(vf_checkpoint *cp, vf_error *err)
{
    free(cp->shards);
    cp->shards = calloc(cp->count ? cp->count : 1, sizeof *cp->shards);
    if (!cp->shards)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    for (size_t i = 0; i < cp->count; i++)
        cp->shards[i] = (vf_shard){cp->names[i], cp->headers[i]};
    qsort(cp->shards, cp->count, sizeof *cp->shards, cmp_shard);
    for (size_t i = 0; i < cp->count; i++) {
        cp->names[i] = (char *)cp->shards[i].name;
        cp->headers[i] = (vf_st_header *)cp->shards[i].header;
    }
    return VF_OK;
}

/* The index against the shards in one merge per shard: the index entries placed in a shard (in name
 * order, as the entries are sorted) are merged with its tensors in name order, marking each entry that
 * has its counterpart and counting the tensors that have one, and the shard's tensor bytes are summed
 * on the way. All matched is the usual case; otherwise the first tensor unmatched (shards in name
 * order, tensors in offset order), then the first entry unmarked (in name order), is reported. */
typedef struct index_marks {
    long *group;        /* per checkpoint shard: the index shard whose entries (ix->by_shard) are its, or -1 */
    bool *entry_ok;     /* per entry: its shard stores it */
    size_t *matched;    /* per checkpoint shard: its tensors the index places there */
    uint64_t *bytes;    /* per checkpoint shard: its tensors' bytes (saturating) */
} index_marks;

static void index_marks_free(index_marks *k)
{
    free(k->group), free(k->entry_ok), free(k->matched), free(k->bytes);
}

typedef struct merge_job {
    const vf_checkpoint *cp;
    index_marks *k;
} merge_job;

/* Merges shard s's tensors (name order) with its group of entries (name order), marking matches,
 * and sums its bytes; shards touch disjoint marks, so they merge on separate threads. */
static int merge_shard(void *ctx, size_t worker, size_t s, vf_error *err)
{
    const merge_job *m = ctx;
    const vf_index *ix = &m->cp->index;
    const vf_st_header *h = m->cp->headers[s];
    index_marks *k = m->k;
    long grp = k->group[s];
    size_t i = 0, count = vf_st_header_count(h), matched = 0;
    size_t g = grp >= 0 ? ix->shard_start[grp] : 0, g_end = grp >= 0 ? ix->shard_start[grp + 1] : 0;
    (void)worker, (void)err;
    while (i < count && g < g_end) {
        const vf_st_tensor *t = vf_st_header_by_name(h, i);
        int c = strcmp(t->name, ix->entries[ix->by_shard[g]].tensor);
        if (c == 0) {
            matched++;
            k->entry_ok[ix->by_shard[g]] = true;
        }
        i += c <= 0;
        g += c >= 0;
    }
    uint64_t bytes = 0;
    for (size_t t = 0; t < count; t++)
        vf_acc_u64(&bytes, vf_st_header_tensor(h, t)->nbytes);
    k->matched[s] = matched;
    k->bytes[s] = bytes;
    return VF_OK;
}

#define VF_MERGE_SHARDS_PER_THREAD 16 /* fewer shards than this per thread: not worth a thread */

/* Finds each checkpoint shard's group of entries (the index grouped them by shard name as it was
 * parsed; entries of a shard name not loaded stay unmarked) and merges each shard with its group. */
static bool mark_index(const vf_checkpoint *cp, index_marks *k)
{
    const vf_index *ix = &cp->index;
    size_t n = cp->count;
    *k = (index_marks){malloc((n ? n : 1) * sizeof *k->group), calloc(ix->count ? ix->count : 1, sizeof *k->entry_ok),
                       malloc((n ? n : 1) * sizeof *k->matched), malloc((n ? n : 1) * sizeof *k->bytes)};
    if (!k->group || !k->entry_ok || !k->matched || !k->bytes)
        return false;
    for (size_t s = 0; s < n; s++)
        k->group[s] = vf_find_sorted_name(ix->shards, ix->shard_count, sizeof *ix->shards, 0, cp->names[s]);
    merge_job m = {cp, k};
    (void)vf_jobs_run(n, vf_parallel_ranges(n, VF_MERGE_SHARDS_PER_THREAD), merge_shard, &m, NULL);
    return true;
}

/* The first tensor of shard s (offset order) the index does not place there: in the index under
 * another shard, or not at all. */
static int unplaced_tensor(const vf_checkpoint *cp, size_t s, vf_error *err)
{
    const vf_index *ix = &cp->index;
    const vf_st_header *h = cp->headers[s];
    for (size_t i = 0; i < vf_st_header_count(h); i++) {
        const vf_st_tensor *t = vf_st_header_tensor(h, i);
        long e = vf_index_find(ix, t->name);
        if (e < 0)
            return vf_error_set(err, VF_ERR_INDEX_MISMATCH, cp->names[s], t->name,
                                "tensor is not listed in " INDEX_NAME);
        if (strcmp(ix->shards[ix->entries[e].shard], cp->names[s]) != 0)
            return vf_error_set(err, VF_ERR_INDEX_MISMATCH, cp->names[s], t->name,
                                "tensor is stored here but " INDEX_NAME " places it in %s",
                                ix->shards[ix->entries[e].shard]);
    }
    return VF_OK; /* not reached: the shard has fewer matches than tensors */
}

/* The first tensor the index does not place in its shard, then the first entry its shard does not
 * store; VF_OK when every one is matched. */
static int index_mismatch(const vf_checkpoint *cp, const index_marks *k, vf_error *err)
{
    const vf_index *ix = &cp->index;
    for (size_t s = 0; s < cp->count; s++)
        if (k->matched[s] != vf_st_header_count(cp->headers[s]))
            return unplaced_tensor(cp, s, err);
    for (size_t e = 0; e < ix->count; e++)
        if (!k->entry_ok[e])
            return vf_error_set(err, VF_ERR_INDEX_MISMATCH, ix->shards[ix->entries[e].shard],
                                ix->entries[e].tensor,
                                "tensor is listed in " INDEX_NAME " but not stored in this shard");
    return VF_OK;
}

/* Every shard tensor is in the index under that shard; every index entry is in its shard; then
 * metadata.total_size against the tensors' bytes (a warning). */
static int cross_check_index(vf_checkpoint *cp, vf_error *err)
{
    const vf_index *ix = &cp->index;
    index_marks k;
    int rc = mark_index(cp, &k) ? index_mismatch(cp, &k, err)
                                : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    uint64_t sum = 0;
    for (size_t s = 0; rc == VF_OK && s < cp->count; s++)
        vf_acc_u64(&sum, k.bytes[s]);
    index_marks_free(&k);
    if (rc != VF_OK)
        return rc;
    if (ix->has_total && ix->total_size != sum) {
        cp->consistent = false;
        if (vf_findings_add(cp->findings, VF_SEV_WARNING,
                            INDEX_NAME ": metadata.total_size is %llu bytes but the shards' tensors "
                                       "hold %llu bytes",
                            (unsigned long long)ix->total_size, (unsigned long long)sum) != VF_OK)
            return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    return VF_OK;
}

/* Without an index: a tensor name may appear in one shard only. Every name goes into one open-
 * addressing table in shard order (the first occurrence stays); of the names met again, the
 * smallest is reported, at its second occurrence, naming the shard of its first (what a stable sort
 * of all names would find first). Linear in the tensors. */
typedef struct name_ref {
    const char *name;
    uint32_t shard;
} name_ref;

static int check_unique_across(vf_checkpoint *cp, vf_error *err)
{
    if (cp->count < 2)
        return VF_OK;
    size_t n = 0, slots = 2;
    for (size_t s = 0; s < cp->count; s++)
        n += vf_st_header_count(cp->headers[s]); /* < 2^32: vf_st_header limits */
    while (slots < 2 * n)
        slots *= 2;
    name_ref *refs = malloc((n ? n : 1) * sizeof *refs);
    uint64_t *table = calloc(slots, sizeof *table); /* hash high half << 32 | ref + 1; 0 empty */
    if (!refs || !table) {
        free(refs), free(table);
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    }
    long dup = -1, first = -1; /* the smallest name met again: its second and first refs */
    for (size_t s = 0, k = 0; s < cp->count; s++)
        for (size_t i = 0; i < vf_st_header_count(cp->headers[s]); i++, k++) {
            const char *name = vf_st_header_tensor(cp->headers[s], i)->name;
            refs[k] = (name_ref){name, (uint32_t)s};
            uint64_t h = XXH3_64bits(name, strlen(name)), tag = h & ~(uint64_t)UINT32_MAX;
            size_t at = (size_t)h & (slots - 1);
            for (; table[at]; at = (at + 1) & (slots - 1))
                if ((table[at] & ~(uint64_t)UINT32_MAX) == tag &&
                    strcmp(refs[(table[at] & UINT32_MAX) - 1].name, name) == 0)
                    break;
            if (!table[at])
                table[at] = tag | (k + 1);
            else if (dup < 0 || strcmp(name, refs[dup].name) < 0)
                dup = (long)k, first = (long)(table[at] & UINT32_MAX) - 1;
        }
    int rc = dup < 0 ? VF_OK
                     : vf_error_set(err, VF_ERR_DUPLICATE, cp->names[refs[dup].shard], refs[dup].name,
                                    "tensor is also stored in %s", cp->names[refs[first].shard]);
    free(refs);
    free(table);
    return rc;
}

int vf_checkpoint_finish(vf_checkpoint *cp, vf_error *err)
{
    int rc = sort_shards(cp, err);
    if (rc != VF_OK)
        return rc;
    if (cp->count == 0)
        return vf_error_set(err, VF_ERR_NO_TENSORS, cp->dir, NULL, "no .safetensors file found");
    long slot = aux_slot(INDEX_NAME);
    if (!cp->aux[slot].present)
        return check_unique_across(cp, err);
    if (!cp->has_index) {
        rc = vf_index_parse(cp->aux[slot].data, cp->aux[slot].len, INDEX_NAME, &cp->index, err);
        if (rc != VF_OK)
            return rc;
        cp->has_index = true;
    }
    rc = cross_check_index(cp, err);
    if (rc == VF_OK) { /* only metadata.total_size is asked for from here: free the tables early */
        bool has_total = cp->index.has_total;
        uint64_t total = cp->index.total_size;
        vf_index_free(&cp->index);
        cp->index.has_total = has_total;
        cp->index.total_size = total;
    }
    return rc;
}

/* ---- directory loading ------------------------------------------------------------------------- */


static int load_shard(vf_checkpoint *cp, vf_st_scratch *scratch, const char *name, vf_error *err)
{
    char *path = vf_path_join(cp->dir, name);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    vf_st_header *h = NULL;
    int rc = vf_st_read_with(AT_FDCWD, path, name, scratch, cp->keep_headers, &h, err);
    free(path);
    return rc == VF_OK ? vf_checkpoint_add_shard(cp, name, h, err) : rc;
}

/* Reads one shard on this thread, into worker 0's arena (no job run is under way). */
static int load_one_shard(vf_checkpoint *cp, const char *name, vf_error *err)
{
    vf_st_scratch *s = vf_st_scratch_new(&cp->arenas[0]);
    int rc = s ? load_shard(cp, s, name, err) : vf_error_set(err, VF_ERR_NOMEM, name, NULL, "out of memory");
    vf_st_scratch_free(s);
    return rc;
}

/* Reads the auxiliary JSON files that exist in the directory. */
/* Reads auxiliary file i when it exists; with only_find, marks it present without reading it. */
static int load_aux_file(vf_checkpoint *cp, size_t i, bool only_find, vf_error *err)
{
    char *path = vf_path_join(cp->dir, vf_aux_names[i]);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    struct stat st;
    int rc = VF_OK;
    /* a dangling or looping symlink is an error (a partial download), not a missing file */
    if (stat(path, &st) == 0 || lstat(path, &st) == 0) {
        rc = only_find ? VF_OK
                       : vf_read_small_file(path, vf_aux_names[i], VF_AUX_MAX_BYTES, &cp->aux[i].data,
                                            &cp->aux[i].len, err);
        cp->aux[i].present = rc == VF_OK;
    }
    free(path);
    return rc;
}

/* Reads the auxiliary JSON files that exist in the directory; with defer_index the index (megabytes
 * for the largest models) is only found, and read by its parse job (shard_job). */
static int load_aux(vf_checkpoint *cp, bool defer_index, vf_error *err)
{
    int rc = VF_OK;
    for (size_t i = 0; rc == VF_OK && vf_aux_names[i]; i++)
        rc = load_aux_file(cp, i, defer_index && (long)i == aux_slot(INDEX_NAME), err);
    return rc;
}


static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.safetensors files of the directory (not hidden ones), sorted: the one open as dfd
 * when dfd >= 0 (the files are then opened relative to the directory listed), else dir. */
static int list_all_shards(int dfd, const char *dir, char ***out, size_t *count, vf_error *err)
{
    int own = dfd >= 0 ? dup(dfd) : -1; /* fdopendir takes its descriptor; dfd stays open */
    DIR *d = own >= 0 ? fdopendir(own) : dfd >= 0 ? NULL : opendir(dir);
    if (!d) {
        int e = errno;
        if (own >= 0)
            close(own);
        return vf_error_set(err, VF_ERR_IO, dir, NULL, "cannot list directory: %s", strerror(e));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = VF_OK;
    for (struct dirent *de; rc == VF_OK && (de = readdir(d));) {
        if (!vf_has_suffix(de->d_name, ".safetensors") || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            rc = vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, cmp_cstr);
    *out = names;
    *count = n;
    return rc;
}

/* Lists the *.safetensors files of the directory, sorted; model.safetensors alone wins when present. */
static int list_shards(int dfd, const char *dir, char ***out, size_t *count, vf_error *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = list_all_shards(dfd, dir, &names, &n, err);
    for (size_t i = 0; rc == VF_OK && i < n; i++)
        if (strcmp(names[i], "model.safetensors") == 0) {
            char *keep = names[i];
            for (size_t j = 0; j < n; j++)
                if (j != i)
                    free(names[j]);
            names[0] = keep;
            n = 1;
        }
    *out = names;
    *count = n;
    return rc;
}

/* Weight files of other formats, by the names the Hugging Face libraries give them. */
static bool foreign_weight_name(const char *name)
{
    static const char *const suffixes[] = {".bin", ".pt", ".pth", ".ckpt", ".gguf", ".onnx", ".h5",
                                           ".keras", ".npz", ".npy", ".msgpack", ".pkl", NULL};
    for (size_t i = 0; suffixes[i]; i++)
        if (vf_has_suffix(name, suffixes[i]))
            return name[0] != '.';
    return false;
}

/* A directory without .safetensors files: when it holds weights of another format, names the first
 * (in name order) with its format and the next step (VF_ERR_FORMAT); VF_OK otherwise, so that the
 * caller reports "no .safetensors file found". */
static int name_foreign_weights(const char *dir, vf_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return VF_OK;
    char first[256] = "";
    size_t count = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (foreign_weight_name(de->d_name) && strlen(de->d_name) < sizeof first) {
            count++;
            if (!first[0] || strcmp(de->d_name, first) < 0)
                snprintf(first, sizeof first, "%s", de->d_name);
        }
    closedir(d);
    if (!count)
        return VF_OK;
    char *path = vf_path_join(dir, first);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
    vf_format f = VF_FORMAT_UNKNOWN;
    vf_error ferr;
    if (vf_format_of_file(path, first, &f, &ferr) != VF_OK)
        f = VF_FORMAT_UNKNOWN;
    free(path);
    if (!vf_format_is_foreign(f))
        return vf_error_set(err, VF_ERR_FORMAT, dir, NULL,
                            "no .safetensors file, only %zu weight file%s of another format (%s)", count,
                            count == 1 ? "" : "s", first);
    return vf_error_set(err, VF_ERR_FORMAT, dir, NULL,
                        "no .safetensors file; %s%s is %s: %s", first, count > 1 ? " (and the others)" : "",
                        vf_format_name(f), vf_format_next_step(f));
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- a directory's shards, read in parallel with its index ------------------------------------ *
 *
 * With an index, the shards are the files it names; it takes a read and parse of the whole index
 * (megabytes for the largest models) to know them. So the index is job 0 of one job run while the
 * other jobs read every *.safetensors file of the directory listing, which is the same set in every
 * published checkpoint. Each shard job keeps its header or its error with the file, and only then
 * are the index's files taken in its order: the first one that failed gives the error (as a loop
 * over the index's files would), a file the listing lacked is read then, and a listed file the index
 * does not name is dropped unseen. An index that fails stops the shard jobs not yet started. */

typedef struct shard_read {
    vf_st_header *header;
    int rc;
    vf_error *err; /* malloc'd when rc != VF_OK; NULL when that allocation failed */
} shard_read;

typedef struct shard_load {
    vf_checkpoint *cp;
    int dir;           /* the directory, open (its files are opened relative to it), or -1 */
    char **names;      /* the listing, sorted */
    size_t n;
    bool indexed;      /* job 0 parses the index */
    shard_read *reads; /* per listed file */
    vf_st_scratch *scratch[VF_PARALLEL_MAX]; /* per worker, made on its first shard */
} shard_load;

static int shard_job(void *ctx, size_t worker, size_t i, vf_error *err)
{
    shard_load *L = ctx;
    vf_checkpoint *cp = L->cp;
    if (L->indexed && i == 0) {
        long slot = aux_slot(INDEX_NAME);
        aux_file *ix = &cp->aux[slot]; /* its text is kept only with the headers */
        int rc = load_aux_file(cp, (size_t)slot, false, err);
        if (rc != VF_OK || !ix->present)
            return rc != VF_OK ? rc : vf_error_set(err, VF_ERR_NOT_FOUND, INDEX_NAME, NULL, "no such file");
        return cp->keep_headers ? vf_index_parse(ix->data, ix->len, INDEX_NAME, &cp->index, err)
                                : vf_index_parse_in_place(ix->data, ix->len, INDEX_NAME, &cp->index, err);
    }
    size_t k = i - L->indexed;
    shard_read *r = &L->reads[k];
    vf_error e = {0};
    char *path = L->dir >= 0 ? L->names[k] : vf_path_join(cp->dir, L->names[k]); /* a plain name */
    if (!L->scratch[worker])
        L->scratch[worker] = vf_st_scratch_new(&cp->arenas[worker]);
    r->rc = !path || !L->scratch[worker]
                ? vf_error_set(&e, VF_ERR_NOMEM, L->names[k], NULL, "out of memory")
                : vf_st_read_with(L->dir >= 0 ? L->dir : AT_FDCWD, path, L->names[k], L->scratch[worker],
                                  cp->keep_headers, &r->header, &e);
    if (L->dir < 0)
        free(path);
    if (r->rc != VF_OK && (r->err = malloc(sizeof *r->err)) != NULL)
        *r->err = e;
    return VF_OK;
}

/* Adds the listed file k: its header, or its error as the result. */
static int take_read(shard_load *L, size_t k, vf_error *err)
{
    shard_read *r = &L->reads[k];
    if (r->rc != VF_OK) {
        if (!r->err)
            return vf_error_set(err, VF_ERR_NOMEM, L->names[k], NULL, "out of memory");
        if (err)
            *err = *r->err;
        return r->rc;
    }
    vf_st_header *h = r->header;
    r->header = NULL; /* vf_checkpoint_add_shard owns it from here, also on failure */
    return vf_checkpoint_add_shard(L->cp, L->names[k], h, err);
}

/* The index's shards in its order, from the listing's reads where it had them. */
static int take_indexed(shard_load *L, vf_error *err)
{
    vf_checkpoint *cp = L->cp;
    cp->has_index = true;
    int rc = VF_OK;
    for (size_t i = 0; rc == VF_OK && i < cp->index.shard_count; i++) {
        const char *name = cp->index.shards[i];
        char **hit = bsearch(&name, L->names, L->n, sizeof *L->names, cmp_cstr);
        rc = hit ? take_read(L, (size_t)(hit - L->names), err) : load_one_shard(cp, name, err);
    }
    return rc;
}

static void shard_load_free(shard_load *L)
{
    if (L->dir >= 0)
        close(L->dir);
    for (size_t k = 0; L->reads && k < L->n; k++) {
        vf_st_header_free(L->reads[k].header);
        free(L->reads[k].err);
    }
    free(L->reads);
    for (size_t w = 0; w < VF_PARALLEL_MAX; w++)
        vf_st_scratch_free(L->scratch[w]);
    free_names(L->names, L->n);
}

#define VF_FILES_PER_THREAD 4 /* fewer files than this per thread: threads cost more than they save */

static int load_directory_shards(vf_checkpoint *cp, vf_error *err)
{
    /* the listing's files opened relative to the directory opened once (no path walk per file);
     * without it (it cannot be opened: the listing then fails too), by their joined paths */
    shard_load L = {.cp = cp, .indexed = cp->aux[aux_slot(INDEX_NAME)].present,
                    .dir = open(cp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    /* with an index the listing is only a guess (a failed one reads nothing ahead) */
    vf_error list_err = {0};
    int rc = L.indexed ? list_all_shards(L.dir, cp->dir, &L.names, &L.n, &list_err)
                       : list_shards(L.dir, cp->dir, &L.names, &L.n, err);
    if (L.indexed && rc != VF_OK) {
        free_names(L.names, L.n);
        L.names = NULL, L.n = 0, rc = VF_OK;
    }
    if (rc == VF_OK && !L.indexed && L.n == 0)
        rc = name_foreign_weights(cp->dir, err);
    if (rc == VF_OK && !(L.reads = calloc(L.n ? L.n : 1, sizeof *L.reads)))
        rc = vf_error_set(err, VF_ERR_NOMEM, cp->dir, NULL, "out of memory");
    size_t jobs = L.n + L.indexed;
    if (rc == VF_OK)
        rc = vf_jobs_run(jobs, vf_parallel_ranges(jobs, VF_FILES_PER_THREAD), shard_job, &L, err);
    if (rc == VF_OK && L.indexed)
        rc = take_indexed(&L, err);
    for (size_t k = 0; rc == VF_OK && !L.indexed && k < L.n; k++)
        rc = take_read(&L, k, err);
    shard_load_free(&L);
    return rc;
}

/* The base name of the directory; for ".", ".." or "" the base name of its real path. */
static char *dir_base_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    char *base = strndup(dir + b, n - b);
    if (base && (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)) {
        char *real = realpath(dir, NULL);
        const char *slash = real ? strrchr(real, '/') : NULL;
        if (slash) {
            free(base);
            base = strdup(slash[1] ? slash + 1 : "/");
        }
        free(real);
    }
    return base;
}

/* The flags of opts (none for NULL or a version-1 struct, which ends before them). */
static unsigned open_flags(const vf_open_options *opts)
{
    return opts && opts->version >= 2 ? opts->flags : 0;
}

static int open_directory(const char *dir, const char *single, unsigned flags, vf_checkpoint **out,
                          vf_error *err)
{
    vf_checkpoint *cp = vf_checkpoint_new(dir);
    if (!cp || !(cp->name = dir_base_name(dir))) {
        vf_checkpoint_free(cp);
        return vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
    }
    cp->keep_headers = flags & VF_OPEN_KEEP_HEADERS;
    int rc = load_aux(cp, !single, err);
    if (rc == VF_OK && single) {
        free(cp->aux[aux_slot(INDEX_NAME)].data); /* a single file named explicitly: no index */
        cp->aux[aux_slot(INDEX_NAME)] = (aux_file){0};
        cp->one_file = true;
        rc = load_one_shard(cp, single, err);
    } else if (rc == VF_OK) {
        rc = load_directory_shards(cp, err);
    }
    if (rc == VF_OK)
        rc = vf_checkpoint_finish(cp, err);
    if (rc == VF_OK && !cp->keep_headers) { /* read in place (shard_job): its facts are in cp->index */
        aux_file *ix = &cp->aux[aux_slot(INDEX_NAME)];
        free(ix->data);
        *ix = (aux_file){0};
    }
    if (rc == VF_OK)
        rc = vf_data_store_read(cp->data, cp->dir, cp->shards, cp->count, err);
    if (rc != VF_OK) {
        vf_checkpoint_free(cp);
        return rc;
    }
    *out = cp;
    return VF_OK;
}

/* ---- entry point ------------------------------------------------------------------------------- */

static int open_file(const char *path, unsigned flags, vf_checkpoint **out, vf_error *err)
{
    char *dir, *single;
    if (vf_cp_locate(path, false, &dir, &single) != VF_OK)
        return vf_error_set(err, VF_ERR_NOMEM, path, NULL, "out of memory");
    vf_format f = VF_FORMAT_UNKNOWN;
    int rc = single ? vf_format_of_file(path, single, &f, err) : VF_OK;
    if (rc == VF_OK && vf_format_is_foreign(f))
        rc = vf_format_error(f, single, err);
    else if (rc == VF_OK)
        rc = open_directory(dir, single, flags, out, err);
    free(dir);
    free(single);
    return rc;
}

/* True when the resolved path p is root or lies below it (whole components: /a/bc is not below /a/b). */
static bool below(const char *p, const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    return strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == '\0');
}

/* One warning when DIR/name (name NULL: DIR itself) resolves outside the cache root. Caches are
 * moved and linked across disks, so this is reported, not refused; the finding names the target. */
static int note_outside(vf_checkpoint *cp, const char *root, const char *name)
{
    char *path = name ? vf_path_join(cp->dir, name) : strdup(cp->dir);
    char *real = path ? realpath(path, NULL) : NULL;
    int rc = VF_OK;
    if (real && !below(real, root))
        rc = vf_findings_add(cp->findings, VF_SEV_WARNING,
                             "%s leads outside the Hugging Face cache root %s, to %s",
                             name ? name : "the snapshot directory", root, real);
    free(real);
    free(path);
    return rc;
}

/* Reports every file of cp (and its snapshot directory) that resolves outside the cache root. */
static int check_containment(vf_checkpoint *cp, const char *cache_root, vf_error *err)
{
    char *root = cache_root ? realpath(cache_root, NULL) : NULL;
    int rc = root ? note_outside(cp, root, NULL) : VF_OK;
    for (size_t i = 0; root && rc == VF_OK && i < cp->count; i++)
        rc = note_outside(cp, root, cp->shards[i].name);
    for (size_t i = 0; root && rc == VF_OK && vf_aux_names[i]; i++)
        if (cp->aux[i].present)
            rc = note_outside(cp, root, vf_aux_names[i]);
    free(root);
    return rc == VF_OK ? VF_OK : vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
}

/* A model id in the local Hugging Face cache; the checkpoint is named ID@REVISION. */
static int open_cached(const char *id, const vf_open_options *opts, vf_checkpoint **out, vf_error *err)
{
    vf_hf_location loc;
    int rc = vf_hf_resolve_path(id, opts, &loc, err);
    if (rc != VF_OK)
        return rc;
    rc = vf_hf_download_hint(&loc, open_directory(loc.snapshot_dir, NULL, open_flags(opts), out, err), err);
    if (rc == VF_OK && vf_checkpoint_set_source(*out, loc.repo_id, loc.revision) != VF_OK)
        rc = vf_error_set(err, VF_ERR_NOMEM, id, NULL, "out of memory");
    else if (rc == VF_OK)
        rc = check_containment(*out, loc.cache_root, err);
    if (rc != VF_OK && *out) {
        vf_checkpoint_free(*out);
        *out = NULL;
    }
    vf_hf_location_free(&loc);
    return rc;
}

static int open_snapshot(const char *path, vf_checkpoint **out, vf_error *err)
{
    int rc = vf_snapshot_read_file(path, NULL, out, err);
    if (rc == VF_OK && !((*out)->snapshot_file = strdup(path))) {
        vf_checkpoint_free(*out);
        *out = NULL;
        rc = vf_error_set(err, VF_ERR_NOMEM, path, NULL, "out of memory");
    }
    return rc;
}

int vf_checkpoint_open(const char *path, const vf_open_options *opts, vf_checkpoint **out,
                       vf_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "no checkpoint path given");
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return open_directory(path, NULL, open_flags(opts), out, err);
        if (vf_snapshot_sniff(path)) /* a .vfsnap header snapshot: read from its bytes alone */
            return open_snapshot(path, out, err);
        return open_file(path, open_flags(opts), out, err);
    }
    if (errno == ENOENT && vf_hf_is_model_id(path))
        return open_cached(path, opts, out, err);
    /* Not there: let the regular-file opener name the cause (missing, dangling link, loop). */
    int fd;
    uint64_t size;
    int rc = vf_open_regular(path, path, &fd, &size, err);
    if (rc == VF_OK) { /* appeared in between: treat as a file */
        close(fd);
        return open_file(path, open_flags(opts), out, err);
    }
    return rc;
}

/* ---- names --------------------------------------------------------------------------------------- */

int vf_checkpoint_set_source(vf_checkpoint *cp, const char *repo_id, const char *revision)
{
    size_t n = strlen(repo_id) + strlen(revision) + 2;
    char *name = malloc(n), *id = strdup(repo_id), *rev = strdup(revision);
    if (!name || !id || !rev) {
        free(name), free(id), free(rev);
        return VF_ERR_NOMEM;
    }
    snprintf(name, n, "%s@%s", repo_id, revision);
    free(cp->name), free(cp->repo_id), free(cp->revision);
    cp->name = name, cp->repo_id = id, cp->revision = rev;
    return VF_OK;
}

int vf_checkpoint_set_origin(vf_checkpoint *cp, const char *origin)
{
    const char *at = strrchr(origin, '@');
    char id[128];
    if (at && (size_t)(at - origin) < sizeof id && at[1]) {
        memcpy(id, origin, (size_t)(at - origin));
        id[at - origin] = '\0';
        if (vf_hf_is_model_id(id))
            return vf_checkpoint_set_source(cp, id, at + 1);
    }
    const char *slash = strrchr(origin, '/');
    char *name = strdup(slash && slash[1] ? slash + 1 : origin); /* older snapshots kept a path */
    if (!name)
        return VF_ERR_NOMEM;
    free(cp->name);
    cp->name = name;
    return VF_OK;
}

const char *vf_checkpoint_name(const vf_checkpoint *cp)
{
    return cp->name ? cp->name : cp->dir;
}

const char *vf_checkpoint_repo_id(const vf_checkpoint *cp)
{
    return cp->repo_id;
}

const char *vf_checkpoint_revision(const vf_checkpoint *cp)
{
    return cp->revision;
}

/* ---- accessors --------------------------------------------------------------------------------- */

const char *vf_checkpoint_dir(const vf_checkpoint *cp)
{
    return cp->dir;
}

size_t vf_checkpoint_shard_count(const vf_checkpoint *cp)
{
    return cp->count;
}

const vf_shard *vf_checkpoint_shard(const vf_checkpoint *cp, size_t i)
{
    return i < cp->count ? &cp->shards[i] : NULL;
}

bool vf_checkpoint_has_index(const vf_checkpoint *cp)
{
    return cp->has_index;
}

bool vf_checkpoint_index_total_size(const vf_checkpoint *cp, uint64_t *out)
{
    if (!cp->has_index || !cp->index.has_total)
        return false;
    *out = cp->index.total_size;
    return true;
}

bool vf_checkpoint_index_consistent(const vf_checkpoint *cp)
{
    return cp->consistent;
}

const uint8_t *vf_checkpoint_aux(const vf_checkpoint *cp, const char *name, size_t *len)
{
    long slot = aux_slot(name);
    if (slot < 0 || !cp->aux[slot].present)
        return NULL;
    if (len)
        *len = cp->aux[slot].len;
    return cp->aux[slot].data;
}

const vf_findings *vf_checkpoint_findings(const vf_checkpoint *cp)
{
    return cp->findings;
}

vf_data_store *vf_checkpoint_data_store(const vf_checkpoint *cp)
{
    return cp->data;
}

bool vf_checkpoint_is_adapter(const vf_checkpoint *cp)
{
    return cp && !cp->one_file && cp->aux[aux_slot("adapter_config.json")].present && cp->count == 1 &&
           strcmp(cp->names[0], "adapter_model.safetensors") == 0;
}

int vf_checkpoint_require_model(const vf_checkpoint *cp, vf_error *err)
{
    if (!vf_checkpoint_is_adapter(cp))
        return VF_OK;
    return vf_error_set(err, VF_ERR_ADAPTER_DIR, cp->dir, NULL,
                        "a PEFT adapter (adapter_config.json + adapter_model.safetensors), not a "
                        "model: check it with 'vramfit audit %s' (or give its base model)",
                        cp->repo_id ? cp->repo_id : cp->dir);
}

/* True when DIR/name exists and is the file st describes. */
static bool dir_file_is(const char *dir, const char *name, const struct stat *st)
{
    char *path = vf_path_join(dir, name);
    struct stat x;
    bool same = path && stat(path, &x) == 0 && vf_same_file(&x, st);
    free(path);
    return same;
}

const char *vf_checkpoint_file_like(const vf_checkpoint *cp, const struct stat *st)
{
    struct stat x;
    if (cp->snapshot_file)
        return stat(cp->snapshot_file, &x) == 0 && vf_same_file(&x, st) ? cp->snapshot_file : NULL;
    for (size_t i = 0; i < cp->count; i++)
        if (dir_file_is(cp->dir, cp->shards[i].name, st))
            return cp->shards[i].name;
    for (size_t i = 0; vf_aux_names[i]; i++)
        if (cp->aux[i].present && dir_file_is(cp->dir, vf_aux_names[i], st))
            return vf_aux_names[i];
    return NULL;
}

/* ---- the files a local PATH names, for callers that check them one by one (verify) -------------- */

int vf_cp_locate(const char *path, bool is_dir, char **dir, char **single)
{
    *single = NULL;
    if (is_dir)
        return (*dir = strdup(path)) ? VF_OK : VF_ERR_NOMEM;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    *dir = !slash ? strdup(".") : slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    bool index = strcmp(base, INDEX_NAME) == 0 || vf_has_suffix(base, ".index.json");
    if (*dir && !index && !(*single = strdup(base))) {
        free(*dir);
        *dir = NULL;
    }
    return *dir ? VF_OK : VF_ERR_NOMEM;
}

int vf_cp_list_shards(const char *dir, char ***names, size_t *count, vf_error *err)
{
    int rc = list_shards(-1, dir, names, count, err);
    if (rc != VF_OK) {
        free_names(*names, *count);
        *names = NULL;
        *count = 0;
    }
    return rc;
}

void vf_cp_free_names(char **names, size_t count)
{
    free_names(names, count);
}
