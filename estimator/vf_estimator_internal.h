/* vf_estimator_internal.h - what the estimator's files share (private to estimator/). */
#ifndef VF_ESTIMATOR_INTERNAL_H
#define VF_ESTIMATOR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vramfit/vf_adapters.h"

/* vf_adapter_plan_build for a caller that has already run vf_family_detect(m, detected): the same
 * plan without detecting the family again (the audit names the family before it predicts). */
int vf_adapter_plan_build_detected(const vf_model *m, const vf_adapter_options *o, const vf_family *detected,
                                   vf_adapter_plan **out, vf_error *err);

/* vf_family_detect(m, out) that keeps, per tensor i of m, the patterns the detection found in its
 * name (any[i]; 0 outside the language model) and which of those bits are "weight" and the detected
 * family's patterns: the family rule (a matrix whose name holds "weight" and a pattern) then needs
 * no second scan. any is NULL when it could not be allocated; free(hits->any). */
typedef struct vf_family_hits {
    uint64_t *any;
    uint64_t weight_bit, pattern_bits;
} vf_family_hits;

void vf_family_detect_keep(const vf_model *m, vf_family *out, vf_family_hits *hits);

/* ---- substring patterns found in one pass over a name (vf_name_scan.c) -------------------------
 * An Aho-Corasick automaton over a fixed set of patterns (the Training Hub families' and the
 * family markers): vf_scan_next reads a name once, whatever the number of patterns, and reports
 * which patterns occur in it as substrings (Training Hub's rule) and which occur on dotted component
 * boundaries (find "a.b" as whole components of "x.a.b.y"). Built on the stack, no allocation. */
#define VF_SCAN_PATTERNS_MAX 64
#define VF_SCAN_STATES_MAX 256
#define VF_SCAN_CLASSES_MAX 32

typedef struct vf_scan {
    uint8_t cls[256];                                    /* byte -> class; 0: in no pattern */
    uint8_t next[VF_SCAN_STATES_MAX][VF_SCAN_CLASSES_MAX]; /* the trie, then the full automaton */
    uint64_t out[VF_SCAN_STATES_MAX];                    /* patterns that end in this state */
    uint8_t len[VF_SCAN_PATTERNS_MAX];
    size_t patterns, states, classes;
} vf_scan;

void vf_scan_init(vf_scan *s);
/* Adds pattern p (1..255 bytes); returns its index (the same index for a pattern already added),
 * or -1 when a limit above is reached. Only before vf_scan_finish. */
int vf_scan_add(vf_scan *s, const char *p);
/* Completes the automaton; names may then be scanned with a cursor. */
void vf_scan_finish(vf_scan *s);

/* Names scanned one after another: vf_scan_next sets bit i of *any when pattern i occurs in name,
 * of *bounded when it occurs with a '.' or the name's start before it and a '.' or the name's end
 * after it. Each name is resumed where it stops sharing whole components with the previous one
 * (the state and the masks before each '.' of the previous name are kept), so
 * "model.layers.7.mlp.experts.12.up_proj.weight" after "...12.gate_proj.weight" reads
 * ".up_proj.weight" only; the previous name must stay valid until the next call. */
#define VF_SCAN_MARKS 64

typedef struct vf_scan_cursor {
    const vf_scan *s;
    const char *prev; /* NULL before the first name */
    size_t prev_len, marks;
    struct vf_scan_mark {
        size_t at; /* a '.' of prev: the state before it, the patterns ending before it */
        size_t state;
        uint64_t any, bounded;
    } mark[VF_SCAN_MARKS];
} vf_scan_cursor;

void vf_scan_cursor_init(vf_scan_cursor *c, const vf_scan *s);
void vf_scan_next(vf_scan_cursor *c, const char *name, uint64_t *any, uint64_t *bounded);

/* ---- names looked up by hash (vf_name_map.c) ----------------------------------------------------
 * Entries (a borrowed name of n bytes, not necessarily NUL-terminated, and a tag) in the order they
 * were added; vf_name_map_first finds the first entry of a (name, tag) and vf_name_map_next the next
 * one of the same (name, tag), so a lookup costs one hash of the name instead of a scan. */
#define VF_NAME_MAP_NONE SIZE_MAX

typedef struct vf_name_entry {
    const char *s;
    size_t n;
    uint32_t tag;
    size_t next; /* the next entry with the same name and tag, VF_NAME_MAP_NONE at the end */
    size_t last; /* (first entry of a name only) the last entry with its name and tag */
} vf_name_entry;

typedef struct vf_name_map {
    vf_name_entry *e;
    size_t n, cap;
    size_t *slot; /* open addressing: index of the first entry of a (name, tag), or NONE */
    size_t slots; /* 0, or a power of two at least twice the distinct (name, tag) pairs */
    size_t keys;  /* distinct (name, tag) pairs */
} vf_name_map;

/* NULL-safe on a zeroed map. */
void vf_name_map_free(vf_name_map *m);
/* Adds entry (s, n, tag) at index m->n; false when out of memory (the map is unchanged). */
bool vf_name_map_add(vf_name_map *m, const char *s, size_t n, uint32_t tag);
/* The first entry index of (s, n, tag), or VF_NAME_MAP_NONE. */
size_t vf_name_map_first(const vf_name_map *m, const char *s, size_t n, uint32_t tag);
static inline size_t vf_name_map_next(const vf_name_map *m, size_t i) { return m->e[i].next; }

#endif
