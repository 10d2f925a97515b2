/* vf_checkpoint_internal.h - the checkpoint layer (parser/checkpoint): resolving PATH (directory,
 * file, snapshot, Hugging Face cache), the checkpoint builder, small tensor data, output files.
 * Private to the library; links down to parser/format and parser/common. */
#ifndef VRAMFIT_VF_CHECKPOINT_INTERNAL_H
#define VRAMFIT_VF_CHECKPOINT_INTERNAL_H

#include "vf_format_internal.h"

#define VF_INDEX_NAME "model.safetensors.index.json"

/* ---- the files a local PATH names, as vf_checkpoint_open reads them (for verify, which checks them
 * one by one when the checkpoint does not open as a whole) ------------------------------------------ */
/* The directory of PATH (is_dir: PATH itself) into *dir, and into *single the one shard file PATH
 * names, or NULL when PATH is a directory or an index file (the directory's shards are meant). Both
 * malloc'd. VF_OK or VF_ERR_NOMEM. */
int vf_cp_locate(const char *path, bool is_dir, char **dir, char **single);
/* The *.safetensors files of dir that the loader reads when there is no index: sorted, not hidden,
 * model.safetensors alone when present. Freed with vf_cp_free_names; none on failure. */
int vf_cp_list_shards(const char *dir, char ***names, size_t *count, vf_error *err);
void vf_cp_free_names(char **names, size_t count);

/* The name of the file of cp (shard, auxiliary file, or the snapshot it was read from) that st
 * describes, or NULL when st is none of them. */
const char *vf_checkpoint_file_like(const vf_checkpoint *cp, const struct stat *st);
/* ---- Hugging Face cache (vf_hfcache.c) ---------------------------------------------------------- */
/* vf_hf_resolve for a PATH argument that named no file: a model missing from the cache is "not a
 * local path and not in the Hugging Face cache ...". */
int vf_hf_resolve_path(const char *id, const vf_open_options *opts, vf_hf_location *loc, vf_error *err);
/* os.path.expandvars + expanduser of s; malloc'd, NULL when out of memory or over 4096 bytes. */
char *vf_hf_expand_path(const char *s);
/* After a failure rc opening loc's snapshot: when the cache shows an interrupted download (a blob
 * still .incomplete, or a file missing), appends the command that completes it to err's message.
 * Returns rc. */
int vf_hf_download_hint(const vf_hf_location *loc, int rc, vf_error *err);

/* ---- snapshots (vf_snapshot.c): vf_checkpoint_open routes PATH to vf_snapshot_read_file when
 * vf_snapshot_sniff(PATH) says it is a .vfsnap file ----------------------------------------------- */
#include "vramfit/vf_snapshot.h"

/* ---- checkpoint builder: used by the directory loader and the snapshot reader ------------------ */

#define VF_AUX_MAX_BYTES (16u * 1024u * 1024u)
extern const char *const vf_aux_names[]; /* NULL-terminated list of auxiliary JSON files kept */

vf_checkpoint *vf_checkpoint_new(const char *dir);
/* Takes ownership of h (also on failure). */
int vf_checkpoint_add_shard(vf_checkpoint *cp, const char *name, vf_st_header *h, vf_error *err);
/* Copies the bytes of an auxiliary file. */
int vf_checkpoint_set_aux(vf_checkpoint *cp, const char *name, const uint8_t *data, size_t len,
                          vf_error *err);
/* Names the checkpoint ID@REVISION from the Hugging Face cache (VF_OK or VF_ERR_NOMEM). */
int vf_checkpoint_set_source(vf_checkpoint *cp, const char *repo_id, const char *revision);
/* Names a checkpoint read from a snapshot by the origin it stores: "ID@REVISION", else a base name
 * (older snapshots stored a path: its last component). VF_OK or VF_ERR_NOMEM. */
int vf_checkpoint_set_origin(vf_checkpoint *cp, const char *origin);
/* Cross-checks shards against the index aux (when present) or for duplicates, sorts shards. */
int vf_checkpoint_finish(vf_checkpoint *cp, vf_error *err);
/* The checkpoint's small tensor data (never NULL for a checkpoint made by vf_checkpoint_new). */
typedef struct vf_data_store vf_data_store;
vf_data_store *vf_checkpoint_data_store(const vf_checkpoint *cp);

/* ---- small tensor data (vf_tensor_data.c) ------------------------------------------------------
 * Entries are keyed by (shard index after vf_checkpoint_finish, tensor index in that header). */
vf_data_store *vf_data_store_new(void);
void vf_data_store_free(vf_data_store *s); /* NULL is a no-op */
size_t vf_data_store_count(const vf_data_store *s);
/* Copies len bytes as the data of (shard, tensor). */
int vf_data_store_add(vf_data_store *s, uint32_t shard, uint32_t tensor, const uint8_t *data,
                      size_t len, vf_error *err);
/* Sorts the entries by key; false when a key is there twice. */
bool vf_data_store_sort(vf_data_store *s);
/* Entry i in key order; false when i is out of range. */
bool vf_data_store_get(const vf_data_store *s, size_t i, uint32_t *shard, uint32_t *tensor,
                       const uint8_t **data, size_t *len);
/* Reads, from the files DIR/shards[i].name, the data of every tensor vf_tensor_data_wanted names
 * and that holds at most VF_TENSOR_DATA_MAX bytes: one bounded pread each, the file re-checked to
 * be regular and of the size its header was read at. */
int vf_data_store_read(vf_data_store *s, const char *dir, const vf_shard *shards, size_t n,
                       vf_error *err);


#endif
