/* vf_place.c - accelerate's infer_auto_device_map on the module tree of a checkpoint (vf_place.h).
 * The loop below follows accelerate/utils/modeling.py line by line; comments quote its steps. */
#include <stdlib.h>
#include <string.h>

#include "vramfit/vf_checked.h"
#include "vramfit/vf_place.h"

/* ---- the module tree ------------------------------------------------------------------------- */

#define NONE ((uint32_t)-1)

typedef struct node {
    char *name;          /* full dotted name ("" for the root) */
    const char *comp;    /* last component (inside name) */
    uint32_t parent;
    uint32_t *kids;      /* module and parameter children, in definition order */
    uint32_t nkids, capkids;
    uint64_t size;       /* bytes of the subtree (a parameter: its own) */
    bool param;          /* a tensor, not a module */
    bool no_split;
    int32_t device;      /* assigned device index, -1 */
} node;

struct vf_placement {
    node *n;
    uint32_t count, cap;
    uint32_t *hash;      /* open addressing over (parent, component) */
    uint32_t hcap;
    vf_place_device dev[VF_PLACE_MAX_DEVICES + 1];
    uint64_t used[VF_PLACE_MAX_DEVICES + 1];
    size_t ndev;
    uint32_t tie_a, tie_b;           /* tied parameters (lm_head.weight, the embedding), or NONE */
    vf_place_entry *entries;
    size_t nentries;
    uint64_t max_layer0;
    bool overflow, too_deep;
};

static uint64_t hash_key(uint32_t parent, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603u ^ parent;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

static bool grow_hash(vf_placement *p)
{
    uint32_t cap = p->hcap ? p->hcap * 2 : 1024;
    uint32_t *h = malloc(sizeof *h * cap);
    if (!h)
        return false;
    memset(h, 0xff, sizeof *h * cap);
    for (uint32_t i = 1; i < p->count; i++) {
        const node *x = &p->n[i];
        uint64_t k = hash_key(x->parent, x->comp, strlen(x->comp)) & (cap - 1);
        while (h[k] != NONE)
            k = (k + 1) & (cap - 1);
        h[k] = i;
    }
    free(p->hash);
    p->hash = h;
    p->hcap = cap;
    return true;
}

static bool add_kid(vf_placement *p, uint32_t parent, uint32_t kid)
{
    node *x = &p->n[parent];
    if (x->nkids == x->capkids) {
        uint32_t cap = x->capkids ? x->capkids * 2 : 4;
        uint32_t *k = realloc(x->kids, sizeof *k * cap);
        if (!k)
            return false;
        x->kids = k;
        x->capkids = cap;
    }
    x->kids[x->nkids++] = kid;
    return true;
}

/* The child of `parent` named s[0..len), created when absent; NONE when out of memory or nodes. */
static uint32_t child(vf_placement *p, uint32_t parent, const char *s, size_t len)
{
    uint64_t k = hash_key(parent, s, len) & (p->hcap - 1);
    for (; p->hash[k] != NONE; k = (k + 1) & (p->hcap - 1)) {
        const node *x = &p->n[p->hash[k]];
        if (x->parent == parent && strlen(x->comp) == len && memcmp(x->comp, s, len) == 0)
            return p->hash[k];
    }
    if (p->count >= VF_PLACE_MAX_NODES)
        return NONE;
    if (p->count == p->cap) {
        uint32_t cap = p->cap * 2;
        node *n = realloc(p->n, sizeof *n * cap);
        if (!n)
            return NONE;
        p->n = n;
        p->cap = cap;
    }
    const node *par = &p->n[parent];
    size_t plen = strlen(par->name);
    char *name = malloc(plen + len + 2);
    if (!name)
        return NONE;
    size_t off = plen ? plen + 1 : 0;
    if (plen) {
        memcpy(name, par->name, plen);
        name[plen] = '.';
    }
    memcpy(name + off, s, len);
    name[off + len] = 0;
    uint32_t id = p->count++;
    p->n[id] = (node){name, name + off, parent, NULL, 0, 0, 0, false, false, -1};
    p->hash[k] = id;
    if (!add_kid(p, parent, id))
        return NONE;
    if (p->count * 2 > p->hcap && !grow_hash(p))
        return NONE;
    return id;
}

/* Adds tensor `name` of `bytes`; returns its node or NONE (also for a name nesting deeper than
 * VF_PLACE_MAX_DEPTH modules, which keeps every walk up the tree short). */
static uint32_t add_tensor(vf_placement *p, const char *name, uint64_t bytes)
{
    uint32_t at = 0, depth = 0;
    for (const char *s = name;; depth++) {
        if (depth >= VF_PLACE_MAX_DEPTH) {
            p->too_deep = true;
            return NONE;
        }
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        at = child(p, at, s, len);
        if (at == NONE)
            return NONE;
        if (!dot)
            break;
        s = dot + 1;
    }
    p->n[at].param = true;
    p->n[at].size = bytes;
    return at;
}

/* Bytes of t as accelerate counts them: integers as stored, floats at min(dtype, stored). */
static uint64_t tensor_bytes(const vf_tensor *t, uint32_t dtype_bytes)
{
    bool integer = t->dtype == VF_DTYPE_BOOL || t->dtype == VF_DTYPE_U8 || t->dtype == VF_DTYPE_I8 ||
                   t->dtype == VF_DTYPE_I16 || t->dtype == VF_DTYPE_U16 || t->dtype == VF_DTYPE_I32 ||
                   t->dtype == VF_DTYPE_U32 || t->dtype == VF_DTYPE_I64 || t->dtype == VF_DTYPE_U64;
    if (!dtype_bytes || integer || !t->numel || t->bytes < t->numel)
        return t->bytes;
    uint64_t elem = t->bytes / t->numel;
    return t->numel * (elem < dtype_bytes ? elem : dtype_bytes);
}

/* ---- definition order ------------------------------------------------------------------------ */

static bool is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Rank of a component in transformers' definition order (lower first); equal ranks by name. */
static int rank_of(const char *c)
{
    static const char *const embed[] = {"embed_tokens", "wte", "wpe", "embed_positions", "word_embeddings",
                                        "tok_embeddings", "embeddings", "embed_in", NULL};
    static const char *const blocks[] = {"layers", "h", "blocks", "block", NULL};
    static const char *const attn[] = {"self_attn", "attn", "attention", "self_attention", NULL};
    static const char *const mlp[] = {"mlp", "block_sparse_moe", "feed_forward", "moe", NULL};
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                       "down_proj", "gate", "experts", NULL};
    static const char *const head[] = {"lm_head", "embed_out", "output", NULL};
    if (is_number(c))
        return 10;
    if (in_list(c, embed))
        return 0;
    if (in_list(c, blocks))
        return 5;
    if (in_list(c, attn))
        return 20;
    if (in_list(c, mlp))
        return 21;
    for (int i = 0; proj[i]; i++)
        if (strcmp(c, proj[i]) == 0)
            return 30 + i;
    if (strcmp(c, "input_layernorm") == 0)
        return 40;
    if (strcmp(c, "post_attention_layernorm") == 0)
        return 41;
    if (strstr(c, "norm") || strncmp(c, "ln_", 3) == 0)
        return 42;
    if (in_list(c, head))
        return 90;
    return 50;
}

static const vf_placement *sort_ctx;

static int cmp_kids(const void *a, const void *b)
{
    const node *x = &sort_ctx->n[*(const uint32_t *)a], *y = &sort_ctx->n[*(const uint32_t *)b];
    if (x->param != y->param) /* named_parameters(recurse=False) come before the children */
        return x->param ? -1 : 1;
    int rx = rank_of(x->comp), ry = rank_of(y->comp);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    if (rx == 10) {
        size_t lx = strlen(x->comp), ly = strlen(y->comp);
        if (lx != ly)
            return lx < ly ? -1 : 1;
    }
    return strcmp(x->comp, y->comp);
}

/* '*' matches one component; otherwise exact. */
static bool pattern_match(const char *pat, size_t plen, const char *name)
{
    size_t i = 0;
    const char *s = name;
    while (i < plen) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        size_t pe = i;
        while (pe < plen && pat[pe] != '.')
            pe++;
        if (!(pe - i == 1 && pat[i] == '*') && (pe - i != len || memcmp(pat + i, s, len) != 0))
            return false;
        i = pe < plen ? pe + 1 : pe;
        if (i < plen && !dot)
            return false;
        if (i >= plen)
            return !dot;
        s = dot + 1;
    }
    return false;
}

static bool no_split_by(const char *list, const char *name)
{
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len && pattern_match(s, len, name))
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

static void finish_tree(vf_placement *p, const char *no_split)
{
    static const char *const blocks[] = {"layers", "h", "blocks", "block", NULL};
    for (uint32_t i = p->count; i-- > 1;) { /* children have larger indices than their parents */
        node *x = &p->n[i];
        if (!p->n[x->parent].param)
            p->overflow |= vf_acc_u64(&p->n[x->parent].size, x->size);
        x->no_split = no_split ? no_split_by(no_split, x->name)
                               : !x->param && is_number(x->comp) && in_list(p->n[x->parent].comp, blocks);
    }
    sort_ctx = p;
    for (uint32_t i = 0; i < p->count; i++)
        if (p->n[i].nkids > 1)
            qsort(p->n[i].kids, p->n[i].nkids, sizeof(uint32_t), cmp_kids);
}

/* ---- the list of modules to treat (front = last element) --------------------------------------- */

typedef struct list {
    uint32_t *v;
    size_t n, cap;
} list;

static bool list_reserve(list *l, size_t more)
{
    if (l->n + more <= l->cap)
        return true;
    size_t cap = (l->n + more) * 2;
    uint32_t *v = realloc(l->v, sizeof *v * cap);
    if (!v)
        return false;
    l->v = v;
    l->cap = cap;
    return true;
}

/* Puts items[0..k) at the front, items[0] first. */
static bool list_prepend(list *l, const uint32_t *items, size_t k)
{
    if (!list_reserve(l, k))
        return false;
    for (size_t i = k; i-- > 0;)
        l->v[l->n++] = items[i];
    return true;
}

static uint32_t list_at(const list *l, size_t i) { return l->v[l->n - 1 - i]; }

static void list_remove(list *l, size_t i)
{
    size_t at = l->n - 1 - i;
    memmove(l->v + at, l->v + at + 1, sizeof *l->v * (l->n - 1 - at));
    l->n--;
}

/* Module children only (named_children), the parameters excluded. */
static size_t module_kids(const vf_placement *p, uint32_t id)
{
    size_t k = 0;
    for (uint32_t i = 0; i < p->n[id].nkids; i++)
        k += !p->n[p->n[id].kids[i]].param;
    return k;
}

/* get_max_layer_size: leaves (no module children) and no-split modules of the list, expanded
 * depth-first; the largest size and every module of that size, in order. */
static bool max_layer(const vf_placement *p, const list *l, bool modules_only, uint64_t *size, list *names)
{
    list work = {0};
    bool ok = true;
    *size = 0;
    names->n = 0;
    for (size_t i = l->n; ok && i-- > 0;) { /* keep list order: push front to back reversed */
        uint32_t id = l->v[i];
        if (modules_only && p->n[id].param)
            continue;
        ok = list_reserve(&work, 1);
        if (ok)
            work.v[work.n++] = id; /* temporary, reversed below */
    }
    for (size_t a = 0, b = work.n ? work.n - 1 : 0; ok && a < b; a++, b--) {
        uint32_t t = work.v[a];
        work.v[a] = work.v[b];
        work.v[b] = t;
    }
    while (ok && work.n) {
        uint32_t id = work.v[--work.n];
        const node *x = &p->n[id];
        if (x->param || module_kids(p, id) == 0 || x->no_split) {
            if (x->size > *size) {
                *size = x->size;
                names->n = 0;
            }
            if (x->size == *size && (ok = list_reserve(names, 1)))
                names->v[names->n++] = id;
            continue;
        }
        ok = list_reserve(&work, x->nkids);
        for (uint32_t i = x->nkids; ok && i-- > 0;)
            if (!p->n[x->kids[i]].param)
                work.v[work.n++] = x->kids[i];
    }
    free(work.v);
    return ok;
}

static bool is_within(const vf_placement *p, uint32_t id, uint32_t anc)
{
    for (; id != NONE; id = id ? p->n[id].parent : NONE)
        if (id == anc)
            return true;
    return false;
}

/* ---- infer_auto_device_map ------------------------------------------------------------------- */

typedef struct state {
    list todo, names;
    uint64_t max_layer;
} state;

/* The tied parameter outside `id` that belongs with it, or NONE. */
static uint32_t tied_outside(const vf_placement *p, uint32_t id)
{
    if (p->tie_a == NONE)
        return NONE;
    bool a = is_within(p, p->tie_a, id), b = is_within(p, p->tie_b, id);
    return a == b ? NONE : a ? p->tie_b : p->tie_a;
}

/* Index in the list of the module holding parameter `param`, or -1. */
static long holder(const vf_placement *p, const list *l, uint32_t param)
{
    for (size_t i = 0; i < l->n; i++)
        if (list_at(l, i) != param && is_within(p, param, list_at(l, i)))
            return (long)i;
    return -1;
}

static void assign(vf_placement *p, uint32_t id, size_t dev) { p->n[id].device = (int32_t)dev; }

/* Replaces the module at list position `at` by its parameters and children. */
static bool expand_at(vf_placement *p, state *s, size_t at)
{
    uint32_t id = list_at(&s->todo, at);
    const node *x = &p->n[id];
    size_t n = s->todo.n - 1 - at; /* storage index */
    if (!list_reserve(&s->todo, x->nkids))
        return false;
    memmove(s->todo.v + n + x->nkids, s->todo.v + n + 1, sizeof(uint32_t) * (s->todo.n - n - 1));
    for (uint32_t i = 0; i < x->nkids; i++)
        s->todo.v[n + x->nkids - 1 - i] = x->kids[i];
    s->todo.n = s->todo.n + x->nkids - 1; /* nkids >= 1: callers split only modules with children */
    return max_layer(p, &s->todo, true, &s->max_layer, &s->names);
}

static bool splittable(const vf_placement *p, uint32_t id)
{
    return !p->n[id].param && module_kids(p, id) > 0 && !p->n[id].no_split;
}

/* used + a + b <= limit, i.e. "used + a <= max - b" without negative numbers; false on overflow. */
static bool within(uint64_t used, uint64_t a, uint64_t b, uint64_t limit)
{
    uint64_t t;
    return !vf_add_u64_overflow(&t, used, a) && !vf_add_u64_overflow(&t, t, b) && t <= limit;
}

/* used + a + b >= limit, i.e. "used + a >= max - b"; true on overflow. */
static bool reaches(uint64_t used, uint64_t a, uint64_t b, uint64_t limit)
{
    uint64_t t;
    return vf_add_u64_overflow(&t, used, a) || vf_add_u64_overflow(&t, t, b) || t >= limit;
}

static bool step(vf_placement *p, state *s, size_t *cur)
{
    uint32_t id = s->todo.v[--s->todo.n];
    size_t k = 0; /* "max_layer_names = [n for n in max_layer_names if n != name and not ...]" */
    for (size_t i = 0; i < s->names.n; i++)
        if (!is_within(p, s->names.v[i], id))
            s->names.v[k++] = s->names.v[i];
    s->names.n = k;
    if (!k && !max_layer(p, &s->todo, true, &s->max_layer, &s->names))
        return false;
    uint64_t size = p->n[id].size;
    uint32_t tied = tied_outside(p, id);
    long at = tied != NONE ? holder(p, &s->todo, tied) : -1;
    uint32_t tied_mod = at >= 0 ? list_at(&s->todo, (size_t)at) : NONE;
    uint64_t with_ties = size;
    if (tied_mod != NONE)
        p->overflow |= vf_acc_u64(&with_ties, p->n[tied_mod].size - p->n[tied].size);
    const vf_place_device *d = &p->dev[*cur];
    bool disk = d->kind == VF_PLACE_DISK;
    bool main_dev = (d->kind == VF_PLACE_GPU && *cur == 0) || d->kind == VF_PLACE_CPU;
    uint64_t reserved = main_dev ? s->max_layer : 0, used = p->used[*cur];
    if (disk || within(used, with_ties, reserved, d->max_memory)) { /* it fits with its ties */
        p->overflow |= vf_acc_u64(&p->used[*cur], with_ties);
        assign(p, id, *cur);
        if (tied_mod != NONE) {
            list_remove(&s->todo, (size_t)at);
            assign(p, tied_mod, *cur);
        }
        return true;
    }
    if (tied_mod != NONE && within(used, size, reserved, d->max_memory) && splittable(p, tied_mod)) {
        uint32_t front = id; /* "[(name, module)] + modules_to_treat[:i] + children + [i + 1:]" */
        if (!expand_at(p, s, (size_t)at) || !list_prepend(&s->todo, &front, 1))
            return false;
        return max_layer(p, &s->todo, true, &s->max_layer, &s->names);
    }
    if (reaches(used, size, reserved, d->max_memory) && splittable(p, id)) {
        /* "used + module_size >= current_max_size": split into parameters and children */
        if (!list_prepend(&s->todo, &id, 1))
            return false;
        return expand_at(p, s, 0);
    }
    p->overflow |= vf_acc_u64(&p->used[*cur], reserved); /* next device, the layer room counted */
    (*cur)++;
    return list_prepend(&s->todo, &id, 1);
}

/* ---- clean_device_map ------------------------------------------------------------------------ *
 * The highest module whose assigned descendants (two or more) all share a device replaces them.
 * Entries come out in module order (accelerate appends a regrouped key at the end of its dict). */

typedef struct group {
    uint32_t count; /* assigned nodes in the subtree */
    int32_t device; /* their common device, -2 when mixed */
} group;

static bool emit(vf_placement *p, uint32_t id, int32_t dev)
{
    vf_place_entry *e = realloc(p->entries, sizeof *e * (p->nentries + 1));
    if (!e)
        return false;
    p->entries = e;
    e[p->nentries++] = (vf_place_entry){p->n[id].name, (size_t)dev, p->n[id].size};
    return true;
}

static bool clean(vf_placement *p)
{
    group *g = calloc(p->count, sizeof *g);
    list work = {0};
    bool ok = g != NULL;
    for (uint32_t i = p->count; ok && i-- > 0;) {
        if (p->n[i].device >= 0)
            g[i] = (group){1, p->n[i].device};
        if (i && g[i].count) {
            group *up = &g[p->n[i].parent];
            up->device = up->count == 0 ? g[i].device : up->device == g[i].device ? up->device : -2;
            up->count += g[i].count;
        }
    }
    if (ok && (ok = list_reserve(&work, 1)))
        work.v[work.n++] = 0;
    while (ok && work.n) {
        uint32_t id = work.v[--work.n];
        if (!g[id].count)
            continue;
        if (p->n[id].device >= 0 || (g[id].count > 1 && g[id].device >= 0)) {
            ok = emit(p, id, g[id].device);
            continue;
        }
        const node *x = &p->n[id];
        ok = list_reserve(&work, x->nkids);
        for (uint32_t i = x->nkids; ok && i-- > 0;)
            work.v[work.n++] = x->kids[i];
    }
    free(work.v);
    free(g);
    return ok;
}

/* ---- driver ---------------------------------------------------------------------------------- */

static int fail(vf_placement *p, const vf_model *m, vf_error *err, int code, const char *msg)
{
    vf_placement_free(p);
    return vf_error_set(err, code, vf_checkpoint_dir(vf_model_checkpoint(m)), NULL, "place: %s", msg);
}

static int cmp_dev(const void *a, const void *b)
{
    const vf_place_device *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* get_max_memory: GPUs by ordinal, then cpu; disk appended. */
static const char *set_devices(vf_placement *p, const vf_place_options *o)
{
    if (!o->devices || !o->device_count || o->device_count > VF_PLACE_MAX_DEVICES)
        return "give between 1 and 64 devices";
    memcpy(p->dev, o->devices, sizeof *p->dev * o->device_count);
    p->ndev = o->device_count;
    qsort(p->dev, p->ndev, sizeof *p->dev, cmp_dev);
    for (size_t i = 0; i < p->ndev; i++) {
        if (p->dev[i].kind == VF_PLACE_DISK)
            return "disk is always the last device; do not list it";
        if (i && p->dev[i].kind == p->dev[i - 1].kind && p->dev[i].index == p->dev[i - 1].index)
            return "a device is listed twice";
    }
    p->dev[p->ndev++] = (vf_place_device){VF_PLACE_DISK, 0, 0};
    return NULL;
}

static bool build(vf_placement *p, const vf_model *m, const vf_place_options *o)
{
    p->cap = 1024;
    p->n = malloc(sizeof *p->n * p->cap);
    if (!p->n || !grow_hash(p))
        return false;
    p->n[0] = (node){NULL, NULL, NONE, NULL, 0, 0, 0, false, false, -1};
    p->n[0].name = calloc(1, 1);
    if (!p->n[0].name)
        return false;
    p->n[0].comp = p->n[0].name;
    p->count = 1;
    for (size_t i = 0; i < vf_model_tensor_count(m); i++) {
        const vf_tensor *t = vf_model_tensor(m, i);
        if (add_tensor(p, t->name, tensor_bytes(t, o->dtype_bytes)) == NONE)
            return false;
    }
    const vf_arch *a = vf_model_arch(m);
    p->tie_a = p->tie_b = NONE;
    if (a->tied_embeddings && a->embedding && vf_model_find(m, "lm_head.weight") < 0) {
        /* transformers ties lm_head.weight to the embedding; named_parameters lists it once */
        long e = vf_model_find(m, a->embedding);
        if (e >= 0) { /* add_tensor finds the existing embedding node */
            p->tie_a = add_tensor(p, "lm_head.weight", 0);
            p->tie_b = add_tensor(p, a->embedding, tensor_bytes(vf_model_tensor(m, (size_t)e), o->dtype_bytes));
            if (p->tie_a == NONE || p->tie_b == NONE)
                return false;
        }
    }
    finish_tree(p, o->no_split);
    return true;
}

static bool allocate(vf_placement *p)
{
    state s = {0};
    bool ok = list_prepend(&s.todo, p->n[0].kids, p->n[0].nkids) &&
              max_layer(p, &s.todo, false, &s.max_layer, &s.names);
    p->max_layer0 = s.max_layer;
    size_t cur = 0;
    while (ok && s.todo.n && cur < p->ndev)
        ok = step(p, &s, &cur);
    free(s.todo.v);
    free(s.names.v);
    return ok && clean(p);
}

int vf_place(const vf_model *m, const vf_place_options *o, vf_placement **out, vf_error *err)
{
    if (!m || !o || !out || o->version != VF_PLACE_OPTIONS_VERSION)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "place: bad arguments or options version");
    *out = NULL;
    if (o->dtype_bytes && o->dtype_bytes != 2 && o->dtype_bytes != 4)
        return vf_error_set(err, VF_ERR_USAGE, NULL, NULL, "place: dtype must take 2 or 4 bytes");
    vf_placement *p = calloc(1, sizeof *p);
    if (!p)
        return vf_error_set(err, VF_ERR_NOMEM, NULL, NULL, "place: out of memory");
    const char *why = set_devices(p, o);
    if (why)
        return fail(p, m, err, VF_ERR_USAGE, why);
    if (!build(p, m, o))
        return p->too_deep ? fail(p, m, err, VF_ERR_USAGE, "a tensor name nests more than 64 modules")
               : p->count >= VF_PLACE_MAX_NODES ? fail(p, m, err, VF_ERR_USAGE, "too many modules to place")
                                                : fail(p, m, err, VF_ERR_NOMEM, "out of memory");
    if (!allocate(p))
        return fail(p, m, err, VF_ERR_NOMEM, "out of memory");
    if (p->overflow)
        return fail(p, m, err, VF_ERR_OVERFLOW, "module sizes overflow 64 bits");
    *out = p;
    return VF_OK;
}

void vf_placement_free(vf_placement *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->count; i++) {
        free(p->n[i].name);
        free(p->n[i].kids);
    }
    free(p->n);
    free(p->hash);
    free(p->entries);
    free(p);
}

size_t vf_placement_count(const vf_placement *p) { return p->nentries; }
const vf_place_entry *vf_placement_entry(const vf_placement *p, size_t i) { return &p->entries[i]; }
size_t vf_placement_device_count(const vf_placement *p) { return p->ndev; }
const vf_place_device *vf_placement_device(const vf_placement *p, size_t i) { return &p->dev[i]; }
uint64_t vf_placement_used(const vf_placement *p, size_t i) { return p->used[i]; }
uint64_t vf_placement_max_layer(const vf_placement *p) { return p->max_layer0; }
uint64_t vf_placement_model_bytes(const vf_placement *p) { return p->n[0].size; }

vf_place_verdict vf_placement_verdict(const vf_placement *p)
{
    vf_place_verdict v = VF_PLACE_FITS_GPUS;
    for (size_t i = 0; i < p->nentries; i++) {
        vf_place_kind k = p->dev[p->entries[i].device].kind;
        if (k == VF_PLACE_DISK)
            return VF_PLACE_NEEDS_DISK;
        if (k == VF_PLACE_CPU)
            v = VF_PLACE_NEEDS_CPU;
    }
    return v;
}
