/* vf_tensor_data.c - the bytes of the few small tensors the analysis reads (vf_parser.h, "small
 * tensor data"): bitsandbytes' packed quant state and compressed-tensors' weight_shape. On disk they
 * are read with one bounded pread per tensor when the checkpoint is opened; a version-2 snapshot
 * carries them. Nothing else of the tensor data is ever read. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vf_checkpoint_internal.h"

typedef struct blob {
    uint32_t shard, tensor; /* shard index (sorted shards) and tensor index within its header */
    const uint8_t *data;    /* in the store's arena */
    size_t len;
} blob;

struct vf_data_store {
    blob *v;
    size_t n, cap;
    vf_arena bytes;
};

/* ---- which tensors ----------------------------------------------------------------------------- */

bool vf_tensor_data_wanted(const char *name)
{
    return name && vf_st_data_name(name, strlen(name)); /* the rule lives with the header parser */
}

/* ---- the store --------------------------------------------------------------------------------- */

vf_data_store *vf_data_store_new(void)
{
    vf_data_store *s = calloc(1, sizeof *s);
    if (s && vf_arena_init(&s->bytes, 16384) != VF_OK) {
        free(s);
        return NULL;
    }
    return s;
}

void vf_data_store_free(vf_data_store *s)
{
    if (!s)
        return;
    vf_arena_free(&s->bytes);
    free(s->v);
    free(s);
}

size_t vf_data_store_count(const vf_data_store *s)
{
    return s ? s->n : 0;
}

/* Appends an entry whose `len` bytes are to be filled by the caller; *dst gets the room. */
static int store_room(vf_data_store *s, uint32_t shard, uint32_t tensor, size_t len, uint8_t **dst,
                      vf_error *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        blob *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
        s->v = v;
        s->cap = cap;
    }
    uint8_t *d = vf_arena_alloc_raw(&s->bytes, len ? len : 1);
    if (!d)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "out of memory");
    s->v[s->n++] = (blob){shard, tensor, d, len};
    *dst = d;
    return VF_OK;
}

int vf_data_store_add(vf_data_store *s, uint32_t shard, uint32_t tensor, const uint8_t *data,
                      size_t len, vf_error *err)
{
    uint8_t *dst = NULL;
    int rc = store_room(s, shard, tensor, len, &dst, err);
    if (rc == VF_OK && len)
        memcpy(dst, data, len);
    return rc;
}

static int cmp_blob(const void *a, const void *b)
{
    const blob *x = a, *y = b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return x->tensor < y->tensor ? -1 : x->tensor > y->tensor;
}

bool vf_data_store_sort(vf_data_store *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_blob);
    for (size_t i = 1; i < s->n; i++)
        if (cmp_blob(&s->v[i - 1], &s->v[i]) == 0)
            return false;
    return true;
}

bool vf_data_store_get(const vf_data_store *s, size_t i, uint32_t *shard, uint32_t *tensor,
                       const uint8_t **data, size_t *len)
{
    if (!s || i >= s->n)
        return false;
    *shard = s->v[i].shard;
    *tensor = s->v[i].tensor;
    *data = s->v[i].data;
    *len = s->v[i].len;
    return true;
}

static const blob *store_find(const vf_data_store *s, uint32_t shard, uint32_t tensor)
{
    blob key = {shard, tensor, NULL, 0};
    return s && s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, cmp_blob) : NULL;
}

/* ---- reading from the shards on disk ----------------------------------------------------------- */

/* A tensor whose bytes vramfit reads: a wanted metadata tensor within the size bound. */
static bool readable(const vf_st_tensor *t)
{
    return vf_tensor_data_wanted(t->name) && t->nbytes <= VF_TENSOR_DATA_MAX;
}

/* Opens shard sh of directory dir (named sh->name in errors, with `tensor`, the first one to read),
 * checking it still has the size its header was read at. */
static int open_shard(const char *dir, const vf_shard *sh, const char *tensor, int *fd, vf_error *err)
{
    char *path = vf_path_join(dir, sh->name);
    if (!path)
        return vf_error_set(err, VF_ERR_NOMEM, dir, NULL, "out of memory");
    uint64_t size = 0;
    int rc = vf_open_regular(path, sh->name, fd, &size, err);
    free(path);
    if (rc == VF_OK && size != vf_st_header_file_size(sh->header)) {
        close(*fd);
        *fd = -1;
        rc = vf_error_set(err, VF_ERR_IO, sh->name, tensor,
                          "file changed size while being read (%llu bytes, header read at %llu)",
                          (unsigned long long)size, (unsigned long long)vf_st_header_file_size(sh->header));
    }
    return rc;
}

/* Reads every readable tensor of shard `si` into s; the file is opened only when it has one. */
static int read_shard_data(vf_data_store *s, uint32_t si, const char *dir, const vf_shard *sh,
                           vf_error *err)
{
    const vf_st_header *h = sh->header;
    int fd = -1, rc = VF_OK;
    if (vf_st_header_data_names(h) == 0) /* counted by the parse: most shards have none */
        return VF_OK;
    for (size_t i = 0; rc == VF_OK && i < vf_st_header_count(h); i++) {
        const vf_st_tensor *t = vf_st_header_tensor(h, i);
        if (!readable(t))
            continue;
        if (fd < 0 && (rc = open_shard(dir, sh, t->name, &fd, err)) != VF_OK)
            break;
        uint8_t *dst = NULL;
        size_t got = 0;
        rc = store_room(s, si, (uint32_t)i, (size_t)t->nbytes, &dst, err);
        /* the header parser checked begin/end against the file size */
        assert(t->begin <= t->end && t->end - t->begin == t->nbytes &&
               vf_st_header_data_start(h) + t->end <= vf_st_header_file_size(h));
        if (rc == VF_OK)
            rc = vf_read_at(fd, dst, (size_t)t->nbytes, vf_st_header_data_start(h) + t->begin, &got,
                            sh->name, err);
        if (rc == VF_OK && got != t->nbytes)
            rc = vf_error_set(err, VF_ERR_IO, sh->name, t->name, "file shrank while being read");
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int vf_data_store_read(vf_data_store *s, const char *dir, const vf_shard *shards, size_t n,
                       vf_error *err)
{
    int rc = VF_OK;
    for (size_t i = 0; rc == VF_OK && i < n; i++)
        rc = read_shard_data(s, (uint32_t)i, dir, &shards[i], err);
    return rc; /* read in (shard, tensor) order: already sorted */
}

/* ---- lookup ------------------------------------------------------------------------------------ */

int vf_checkpoint_tensor_data(const vf_checkpoint *cp, size_t shard, const char *name,
                              const uint8_t **data, size_t *len, vf_error *err)
{
    const vf_shard *sh = vf_checkpoint_shard(cp, shard);
    long i = sh ? vf_st_header_find(sh->header, name) : -1;
    if (i < 0)
        return vf_error_set(err, VF_ERR_USAGE, sh ? sh->name : NULL, name, "no such tensor");
    const vf_st_tensor *t = vf_st_header_tensor(sh->header, (size_t)i);
    if (!readable(t))
        return vf_error_set(err, VF_ERR_UNSUPPORTED, sh->name, name,
                            "vramfit reads the data of small (<= %u bytes) bitsandbytes quant_state "
                            "and weight_shape tensors only (this one has %llu bytes)",
                            VF_TENSOR_DATA_MAX, (unsigned long long)t->nbytes);
    const blob *b = store_find(vf_checkpoint_data_store(cp), (uint32_t)shard, (uint32_t)i);
    if (!b)
        return vf_error_set(err, VF_ERR_SNAPSHOT, sh->name, name,
                            "the snapshot carries no data for this tensor (snapshot format 1 holds "
                            "headers only: make it again with this vramfit)");
    *data = b->data;
    *len = b->len;
    return VF_OK;
}
