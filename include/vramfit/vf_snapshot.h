/* vf_snapshot.h - header snapshots: a compressed, fingerprinted bundle of everything vramfit reads
 * from a checkpoint (every shard's name, file size and verbatim header bytes, the index and the
 * auxiliary JSON files), a few kilobytes that can be analysed anywhere exactly like the checkpoint.
 *
 * FORMAT, version 2 (docs/snapshot-format.md is the full description). All integers little-endian.
 * Version 2 is version 1 plus a tensor data section at the end of the payload; the writer uses
 * version 1 when there is no tensor data to carry, and the reader reads both.
 *
 *   offset size  field
 *   0      8     magic 89 56 46 53 4E 41 50 0A ("\x89VFSNAP\n"; as a safetensors length prefix it
 *                would be > 100,000,000, so a snapshot is never mistaken for a .safetensors file)
 *   8      4     format version (1 or 2)
 *   12     4     flags (0; any other value is rejected)
 *   16     8     payload length P (uncompressed), at most VF_SNAPSHOT_MAX_PAYLOAD
 *   24     8     compressed length C; the file is exactly 48 + C bytes
 *   32     16    snapshot fingerprint: XXH3-128 (canonical, big-endian) of bytes 0..31 followed by
 *                the P payload bytes
 *   48     C     one gzip member (RFC 1952, deflate) holding the payload
 *
 *   payload:
 *     u32 origin length (1..4096), origin: the directory string the checkpoint was opened with
 *         (vf_checkpoint_dir), restored as the snapshot's vf_checkpoint_dir so output is identical;
 *         no control characters. It is a label only: nothing is ever opened under it.
 *     u32 shard count (1..VF_SNAPSHOT_MAX_SHARDS), then per shard:
 *         u16 name length (1..1024), name (a plain file name, vf_safe_file_name),
 *         u64 file size, u32 header length N (<= 100,000,000),
 *         16 bytes XXH3-128 of the N header bytes, the N verbatim header bytes (no length prefix)
 *     u32 auxiliary file count (0..4), then per file:
 *         u16 name length, name (config.json, generation_config.json, adapter_config.json or
 *         model.safetensors.index.json, each at most once), u32 length (<= 16 MiB),
 *         16 bytes XXH3-128 of the bytes, the bytes
 *     version 2 only: u32 tensor data count, then per record:
 *         u16 shard name length, shard name (one of the shards above), u16 tensor name length,
 *         tensor name (a tensor of that shard that vf_tensor_data_wanted names), u32 length (the
 *         tensor's byte size, <= VF_TENSOR_DATA_MAX), 16 bytes XXH3-128 of the bytes, the bytes
 *     (end of payload: no trailing bytes)
 *
 * Reading validates in this order, each failure with its own message: size >= 48, magic, version,
 * flags, declared sizes against the file and the caps, gzip stream (corrupt, truncated, trailing
 * data, size other than declared), snapshot fingerprint, payload structure, names, per-file
 * fingerprints, then every header through vf_st_parse_header and the checkpoint cross-checks
 * (vf_checkpoint_finish) exactly as for files on disk. The reader reads the snapshot file and nothing else;
 * allocations grow with the bytes actually decompressed, never with a size the file merely claims. */
#ifndef VRAMFIT_VF_SNAPSHOT_H
#define VRAMFIT_VF_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vf_error.h"
#include "vf_parser.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VF_SNAPSHOT_VERSION 2u      /* newest version written and read */
#define VF_SNAPSHOT_VERSION_MIN 1u  /* oldest version read */
#define VF_SNAPSHOT_MAGIC "\x89VFSNAP\n" /* 8 bytes */
#define VF_SNAPSHOT_MAGIC_BYTES 8u
#define VF_SNAPSHOT_HEADER_BYTES 48u
#define VF_SNAPSHOT_SUFFIX ".vfsnap"
#define VF_SNAPSHOT_MAX_PAYLOAD (UINT64_C(1) << 30) /* 1 GiB uncompressed */
#define VF_SNAPSHOT_MAX_FILE (VF_SNAPSHOT_MAX_PAYLOAD + VF_SNAPSHOT_HEADER_BYTES)
#define VF_SNAPSHOT_MAX_SHARDS 100000u
#define VF_SNAPSHOT_MAX_ORIGIN 4096u
#define VF_SNAPSHOT_MAX_NAME 1024u

/* One file in a snapshot, for vf_snapshot_encode. */
typedef struct vf_snapshot_file {
    const char *name;     /* file name, stored verbatim */
    uint64_t file_size;   /* shards: size of the .safetensors file; auxiliary files: ignored */
    const uint8_t *data;  /* shards: the header bytes without the 8-byte prefix; aux: the file */
    size_t len;
} vf_snapshot_file;

/* Encodes a snapshot from raw parts into a new buffer (*out, *out_len; free with free()).
 * Encodes what it is given without validating it (tests and fuzz seeds build hostile snapshots
 * this way); fails only when a field does not fit the format (VF_ERR_UNSUPPORTED), on a payload
 * above VF_SNAPSHOT_MAX_PAYLOAD, or on allocation/zlib failure. Deterministic for a given zlib. */
int vf_snapshot_encode(const char *origin, const vf_snapshot_file *shards, size_t shard_count,
                       const vf_snapshot_file *aux, size_t aux_count, uint8_t **out, size_t *out_len,
                       vf_error *err);

/* One tensor's data in a version-2 snapshot, for vf_snapshot_encode_data. */
typedef struct vf_snapshot_data {
    const char *shard;   /* shard file name */
    const char *tensor;  /* tensor name */
    const uint8_t *data;
    size_t len;
} vf_snapshot_data;

/* vf_snapshot_encode plus a tensor data section: always format version 2 (vf_snapshot_encode
 * writes version 1). Validates nothing, as vf_snapshot_encode. */
int vf_snapshot_encode_data(const char *origin, const vf_snapshot_file *shards, size_t shard_count,
                            const vf_snapshot_file *aux, size_t aux_count,
                            const vf_snapshot_data *data, size_t data_count, uint8_t **out,
                            size_t *out_len, vf_error *err);

/* Encodes an opened checkpoint: its directory string, every shard, the auxiliary files it holds and
 * the small tensor data it read (vf_checkpoint_tensor_data; version 2, else version 1).
 * Fails with VF_ERR_UNSUPPORTED when the directory string has control characters or is too long. */
int vf_snapshot_write(const vf_checkpoint *cp, uint8_t **out, size_t *out_len, vf_error *err);

/* Decodes and validates a whole snapshot held in memory (fuzzing entry point) and builds the
 * checkpoint it describes. `display` names the snapshot in errors (NULL: "snapshot"); errors inside
 * it name "DISPLAY:SHARD". *out is NULL on failure. */
int vf_snapshot_parse(const uint8_t *buf, size_t len, const char *display, vf_checkpoint **out,
                      vf_error *err);

/* Reads the snapshot file at `path` (at most VF_SNAPSHOT_MAX_FILE bytes) and vf_snapshot_parse()s
 * it. `display` as for vf_snapshot_parse (NULL: path). */
int vf_snapshot_read_file(const char *path, const char *display, vf_checkpoint **out, vf_error *err);

/* True when buf starts with the snapshot magic. */
bool vf_snapshot_has_magic(const uint8_t *buf, size_t len);

/* True when `path` names a regular file that ends in ".vfsnap" or starts with the snapshot magic:
 * what vf_checkpoint_open uses to route a path to vf_snapshot_read_file. */
bool vf_snapshot_sniff(const char *path);

#ifdef __cplusplus
}
#endif
#endif
