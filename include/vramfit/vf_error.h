/* vf_error.h - status codes and the caller-owned error record shared by every vramfit module.
 *
 * Contract: every fallible library function returns VF_OK (0) or a negative vf_status and, when given
 * a non-NULL vf_error *, fills it with the code, the file and tensor (or key) concerned and a one-line
 * message. Nothing is global; nothing is printed. vf_error_format() renders the record as the single
 * line the CLI prints on stderr: "FILE: tensor 'NAME': MESSAGE". */
#ifndef VRAMFIT_VF_ERROR_H
#define VRAMFIT_VF_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, class, doc).  class: 'u' usage, 'i' I/O, 'd' invalid data, 'm' memory,
 * 'x' mismatch found by a comparison (audit/verify).  One line of doc with an example input. */
#define VF_STATUS_LIST(X)                                                                            \
    X(VF_OK, 0, 'o', "success")                                                                      \
    X(VF_ERR_USAGE, -1, 'u', "bad argument or option value, e.g. --rank 0")                          \
    X(VF_ERR_NOMEM, -2, 'm', "allocation failed")                                                    \
    X(VF_ERR_IO, -3, 'i', "a file could not be opened, read or written")                             \
    X(VF_ERR_NOT_FOUND, -4, 'i', "path, shard or cached model does not exist")                       \
    X(VF_ERR_HEADER_TOO_SMALL, -10, 'd', "file shorter than the 8-byte length prefix")               \
    X(VF_ERR_HEADER_TOO_LARGE, -11, 'd', "header length above 100,000,000 bytes")                    \
    X(VF_ERR_HEADER_LENGTH, -12, 'd', "header length runs past the end of the file")                 \
    X(VF_ERR_UTF8, -13, 'd', "header is not valid UTF-8")                                            \
    X(VF_ERR_JSON, -14, 'd', "header is not valid JSON, e.g. {\"a\":}")                              \
    X(VF_ERR_HEADER, -15, 'd', "JSON is not a header object of {dtype,shape,data_offsets} entries")  \
    X(VF_ERR_DTYPE, -16, 'd', "unknown dtype, e.g. \"F128\"")                                        \
    X(VF_ERR_SHAPE, -17, 'd', "shape entry not a non-negative integer <= 2^53, e.g. 1.5 or -3")      \
    X(VF_ERR_OVERFLOW, -18, 'd', "element count or byte size overflows 64 bits")                     \
    X(VF_ERR_MISALIGNED, -19, 'd', "sub-byte dtype whose bit count is not a whole number of bytes")  \
    X(VF_ERR_TENSOR_INFO, -20, 'd', "data_offsets span differs from numel x dtype size")             \
    X(VF_ERR_OFFSETS, -21, 'd', "data_offsets overlap, leave a gap or are reversed")                 \
    X(VF_ERR_INCOMPLETE, -22, 'd', "tensors do not cover the data region exactly to end of file")    \
    X(VF_ERR_DUPLICATE, -23, 'd', "tensor name appears twice (in one header or across shards)")      \
    X(VF_ERR_METADATA, -24, 'd', "__metadata__ is not an object of string values")                   \
    X(VF_ERR_INDEX, -30, 'd', "model.safetensors.index.json is malformed")                           \
    X(VF_ERR_UNSAFE_PATH, -31, 'd', "file name from a file is absolute or contains / or ..")         \
    X(VF_ERR_INDEX_MISMATCH, -32, 'd', "index and shard headers disagree about a tensor")            \
    X(VF_ERR_NO_TENSORS, -33, 'd', "no safetensors file found at the path")                          \
    X(VF_ERR_CONFIG, -34, 'd', "a JSON config file is malformed")                                    \
    X(VF_ERR_QUANT, -35, 'd', "quantization metadata is malformed or disagrees with the weights")    \
    X(VF_ERR_SNAPSHOT, -40, 'd', "snapshot bundle is malformed or corrupt")                          \
    X(VF_ERR_CHECKSUM, -41, 'd', "a fingerprint does not match the bytes it covers")                 \
    X(VF_ERR_UNSUPPORTED, -50, 'd', "input is valid but outside what vramfit supports")              \
    X(VF_ERR_FORMAT, -51, 'd', "a file in another format (GGUF, PyTorch, NumPy, ONNX, HDF5, JSON) or empty") \
    X(VF_ERR_ADAPTER_DIR, -52, 'd', "a PEFT adapter directory given where a model is expected")     \
    X(VF_ERR_MISMATCH, -60, 'x', "a comparison (audit, verify --against) found differences")

typedef enum vf_status {
#define VF_X_ENUM(name, value, cls, doc) name = (value),
    VF_STATUS_LIST(VF_X_ENUM)
#undef VF_X_ENUM
} vf_status;

#define VF_ERROR_FILE_MAX 512
#define VF_ERROR_TENSOR_MAX 256
#define VF_ERROR_MESSAGE_MAX 768

/* Caller-owned; zero-initialise before use. Strings are always NUL-terminated and
 * truncated (never overflowed) when too long. */
typedef struct vf_error {
    int code;                           /* VF_OK or a negative vf_status */
    char file[VF_ERROR_FILE_MAX];       /* file concerned, "" when none */
    char tensor[VF_ERROR_TENSOR_MAX];   /* tensor name or JSON key concerned, "" when none */
    char message[VF_ERROR_MESSAGE_MAX]; /* what is wrong, one line, no trailing newline */
} vf_error;


/* Fills err (if non-NULL) and returns code, so callers can write `return vf_error_set(...)`.
 * file/tensor may be NULL. Control characters in any field are replaced by '?' so one error is one
 * line whatever the input held. */
int vf_error_set(vf_error *err, int code, const char *file, const char *tensor, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Like vf_error_set but keeps the file already recorded when `file` is NULL. */
int vf_error_setv(vf_error *err, int code, const char *file, const char *tensor, const char *fmt,
                  va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 0)))
#endif
    ;

/* "VF_ERR_DTYPE" etc.; "VF_ERR_UNKNOWN" for a value outside the list. */
const char *vf_status_name(int code);

/* One-letter class from VF_STATUS_LIST ('u','i','d','m','x','o'); '?' for unknown codes. */
char vf_status_class(int code);

/* Writes "FILE: tensor 'T': MESSAGE" (parts omitted when empty) into buf; returns buf. */
const char *vf_error_format(const vf_error *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
