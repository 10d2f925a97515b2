/* vf_format.c - names the format of a file from its first bytes, before the safetensors parser sees
 * it, so that a GGUF file, a PyTorch pickle or a config.json given as the checkpoint gets one line
 * saying what it is and what to do instead of a message about header lengths.
 *
 * Magic bytes: GGUF "GGUF" (ggml docs/gguf.md); ZIP local file header "PK\3\4" (PKWARE APPNOTE
 * 4.3.7; torch.save >= 1.6 writes a zip whose entries are ARCHIVE/data.pkl, ARCHIVE/version,
 * ARCHIVE/data/N; numpy.savez a zip of NAME.npy; Keras 3 .keras a zip of metadata.json,
 * config.json, model.weights.h5); pickle protocol 2+ "\x80" + protocol byte (pickletools PROTO);
 * legacy torch.save (< 1.6) starts with the pickled long 0x1950a86a20f9469cfc6c (torch/serialization.py
 * MAGIC_NUMBER); NumPy "\x93NUMPY" (numpy/lib/format.py); HDF5 "\x89HDF\r\n\x1a\n" at 0 or 512
 * (HDF5 spec, superblock); ONNX has no magic: a protobuf ModelProto opens with field 1 ir_version
 * (tag 0x08, value 1..15) then another ModelProto field (onnx/onnx.proto). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vf_format_internal.h"
#include "vramfit/vf_snapshot.h" /* VF_SNAPSHOT_MAGIC: a snapshot is a format too */

#define SNIFF_BYTES 520u /* HDF5 may sit behind a 512-byte user block */

static const struct {
    const char *name, *next_step;
} format_info[VF_FORMAT_COUNT] = {
    [VF_FORMAT_UNKNOWN] = {"unknown", ""},
    [VF_FORMAT_SAFETENSORS] = {"safetensors", ""},
    [VF_FORMAT_VFSNAP] = {"vramfit header snapshot", ""},
    [VF_FORMAT_EMPTY] = {"an empty file (0 bytes)",
                         "an interrupted download or copy? fetch the file again"},
    [VF_FORMAT_GGUF] = {"a GGUF file (llama.cpp)",
                        "vramfit reads safetensors: use the Hugging Face checkpoint it was converted "
                        "from"},
    [VF_FORMAT_PYTORCH_ZIP] = {"a PyTorch checkpoint (torch.save zip archive)",
                               "convert it: load it with transformers and "
                               "save_pretrained(DIR, safe_serialization=True), or "
                               "safetensors.torch.save_file(state_dict, FILE)"},
    [VF_FORMAT_PYTORCH_LEGACY] = {"a PyTorch checkpoint (legacy torch.save pickle, before 1.6)",
                                  "convert it: load it with transformers and "
                                  "save_pretrained(DIR, safe_serialization=True), or "
                                  "safetensors.torch.save_file(state_dict, FILE)"},
    [VF_FORMAT_PICKLE] = {"a Python pickle",
                          "if it holds a PyTorch state dict, convert it with "
                          "safetensors.torch.save_file(state_dict, FILE) (unpickling runs code: "
                          "trusted files only)"},
    [VF_FORMAT_NPY] = {"a NumPy .npy array",
                       "convert it with safetensors.numpy.save_file({NAME: array}, FILE)"},
    [VF_FORMAT_NPZ] = {"a NumPy .npz archive",
                       "convert it with safetensors.numpy.save_file(dict(numpy.load(F)), FILE)"},
    [VF_FORMAT_KERAS] = {"a Keras 3 .keras archive",
                         "load it with transformers (from_tf=True) and "
                         "save_pretrained(DIR, safe_serialization=True)"},
    [VF_FORMAT_ZIP] = {"a ZIP archive", "unpack it and give vramfit the directory of .safetensors files"},
    [VF_FORMAT_ONNX] = {"an ONNX model",
                        "vramfit reads safetensors: use the checkpoint the ONNX model was exported from"},
    [VF_FORMAT_HDF5] = {"an HDF5 file (Keras/TensorFlow .h5)",
                        "load it with transformers (from_tf=True) and "
                        "save_pretrained(DIR, safe_serialization=True)"},
    [VF_FORMAT_JSON] = {"a JSON file",
                        "give the directory that holds it and the model's .safetensors files"},
};

const char *vf_format_name(vf_format f)
{
    return (unsigned)f < VF_FORMAT_COUNT ? format_info[f].name : "unknown";
}

const char *vf_format_next_step(vf_format f)
{
    return (unsigned)f < VF_FORMAT_COUNT ? format_info[f].next_step : "";
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* 8-byte length N that fits the file, then a JSON object (leading whitespace allowed). */
static bool looks_safetensors(const uint8_t *h, size_t len, uint64_t size)
{
    if (len < 9 || size < 8 || vf_load_le(h, 8) > size - 8)
        return false;
    size_t i = 8;
    while (i < len && is_space(h[i]))
        i++;
    return i < len && h[i] == '{';
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* The first entry's name of a ZIP local file header (offset 26: name length, 30: the name). */
static vf_format sniff_zip(const uint8_t *h, size_t len)
{
    if (len < 30)
        return VF_FORMAT_ZIP;
    size_t n = (size_t)h[26] | (size_t)h[27] << 8;
    if (n > len - 30)
        n = len - 30;
    const char *name = (const char *)h + 30;
    if (ends_with(name, n, "data.pkl") || ends_with(name, n, "/version") || ends_with(name, n, "/.format_version") ||
        ends_with(name, n, "/byteorder"))
        return VF_FORMAT_PYTORCH_ZIP;
    if (ends_with(name, n, ".npy"))
        return VF_FORMAT_NPZ;
    if ((n == 13 && memcmp(name, "metadata.json", 13) == 0) || (n == 11 && memcmp(name, "config.json", 11) == 0) ||
        ends_with(name, n, "model.weights.h5"))
        return VF_FORMAT_KERAS;
    return VF_FORMAT_ZIP;
}

static bool looks_onnx(const uint8_t *h, size_t len)
{
    static const uint8_t next_field[] = {0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72};
    if (len < 3 || h[0] != 0x08 || h[1] < 1 || h[1] > 15)
        return false;
    return memchr(next_field, h[2], sizeof next_field) != NULL;
}

vf_format vf_format_sniff(const uint8_t *head, size_t len, uint64_t file_size)
{
    static const uint8_t legacy_torch[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                           0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    static const uint8_t hdf5[] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (file_size == 0)
        return VF_FORMAT_EMPTY;
    if (looks_safetensors(head, len, file_size))
        return VF_FORMAT_SAFETENSORS;
    if (len >= VF_SNAPSHOT_MAGIC_BYTES && memcmp(head, VF_SNAPSHOT_MAGIC, VF_SNAPSHOT_MAGIC_BYTES) == 0)
        return VF_FORMAT_VFSNAP;
    if (len >= 4 && memcmp(head, "GGUF", 4) == 0)
        return VF_FORMAT_GGUF;
    if (len >= 4 && (memcmp(head, "PK\3\4", 4) == 0 || memcmp(head, "PK\5\6", 4) == 0))
        return sniff_zip(head, len);
    if (len >= sizeof legacy_torch && memcmp(head, legacy_torch, sizeof legacy_torch) == 0)
        return VF_FORMAT_PYTORCH_LEGACY;
    if (len >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5)
        return VF_FORMAT_PICKLE;
    if (len >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)
        return VF_FORMAT_NPY;
    if ((len >= 8 && memcmp(head, hdf5, 8) == 0) || (len >= 520 && memcmp(head + 512, hdf5, 8) == 0))
        return VF_FORMAT_HDF5;
    if (looks_onnx(head, len))
        return VF_FORMAT_ONNX;
    size_t i = 0;
    while (i < len && is_space(head[i]))
        i++;
    if (i < len && (head[i] == '{' || head[i] == '['))
        return VF_FORMAT_JSON;
    return VF_FORMAT_UNKNOWN;
}

int vf_format_of_file(const char *path, const char *display, vf_format *out, vf_error *err)
{
    int fd;
    uint64_t size;
    int rc = vf_open_regular(path, display, &fd, &size, err);
    if (rc != VF_OK)
        return rc;
    uint8_t head[SNIFF_BYTES];
    size_t got = 0;
    rc = vf_read_at(fd, head, sizeof head, 0, &got, display, err);
    close(fd);
    if (rc == VF_OK)
        *out = vf_format_sniff(head, got, size);
    return rc;
}

int vf_format_error(vf_format f, const char *file, vf_error *err)
{
    return vf_error_set(err, VF_ERR_FORMAT, file, NULL, "%s, not safetensors: %s", vf_format_name(f),
                        vf_format_next_step(f));
}

bool vf_format_is_foreign(vf_format f)
{
    return f != VF_FORMAT_UNKNOWN && f != VF_FORMAT_SAFETENSORS && f != VF_FORMAT_VFSNAP;
}
