/* vf_name_map.c - names looked up by hash (vf_estimator_internal.h): the audit's stored entries by
 * module and key, the modules of a plan, the distinct candidate names of a "did you mean". */
#include <stdlib.h>
#include <string.h>

#include "vf_estimator_internal.h"

#define MIX 0x9E3779B97F4A7C15ull

/* The name eight bytes at a time (multiply and fold), then its tail and length, and the tag. */
static uint64_t hash_of(const char *s, size_t n, uint32_t tag)
{
    uint64_t h = tag ^ ((uint64_t)n << 32), w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * MIX;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * MIX;
    return h ^ (h >> 32);
}

/* The slot holding (s, n, tag), or the empty slot where it would go. */
static size_t find_slot(const vf_name_map *m, const char *s, size_t n, uint32_t tag)
{
    size_t mask = m->slots - 1, i = (size_t)hash_of(s, n, tag) & mask;
    for (; m->slot[i] != VF_NAME_MAP_NONE; i = (i + 1) & mask) {
        const vf_name_entry *e = &m->e[m->slot[i]];
        if (e->n == n && e->tag == tag && memcmp(e->s, s, n) == 0)
            break;
    }
    return i;
}

size_t vf_name_map_first(const vf_name_map *m, const char *s, size_t n, uint32_t tag)
{
    return m->slots ? m->slot[find_slot(m, s, n, tag)] : VF_NAME_MAP_NONE;
}

/* Twice the slots (16 at first), every first entry placed again. */
static bool grow_slots(vf_name_map *m)
{
    size_t slots = m->slots ? m->slots * 2 : 16, *old = m->slot, n_old = m->slots;
    size_t *slot = slots < SIZE_MAX / sizeof *slot ? malloc(slots * sizeof *slot) : NULL;
    if (!slot)
        return false;
    for (size_t i = 0; i < slots; i++)
        slot[i] = VF_NAME_MAP_NONE;
    m->slot = slot;
    m->slots = slots;
    for (size_t i = 0; i < n_old; i++)
        if (old[i] != VF_NAME_MAP_NONE) {
            const vf_name_entry *e = &m->e[old[i]];
            m->slot[find_slot(m, e->s, e->n, e->tag)] = old[i];
        }
    free(old);
    return true;
}

bool vf_name_map_add(vf_name_map *m, const char *s, size_t n, uint32_t tag)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        vf_name_entry *e = cap < SIZE_MAX / sizeof *e ? realloc(m->e, cap * sizeof *e) : NULL;
        if (!e)
            return false;
        m->e = e;
        m->cap = cap;
    }
    if ((m->keys + 1) * 2 > m->slots && !grow_slots(m))
        return false;
    size_t i = find_slot(m, s, n, tag), at = m->n++;
    m->e[at] = (vf_name_entry){s, n, tag, VF_NAME_MAP_NONE, at};
    if (m->slot[i] == VF_NAME_MAP_NONE) {
        m->slot[i] = at;
        m->keys++;
    } else {
        vf_name_entry *first = &m->e[m->slot[i]];
        m->e[first->last].next = at;
        first->last = at;
    }
    return true;
}

void vf_name_map_free(vf_name_map *m)
{
    free(m->e);
    free(m->slot);
    memset(m, 0, sizeof *m);
}
