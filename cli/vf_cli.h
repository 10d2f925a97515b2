/* vf_cli.h - what the vramfit subcommands share: the output buffer (nothing reaches stdout until a
 * command has fully succeeded), option parsing, number formatting and exit codes.
 * The CLI includes only the library's public headers. */
#ifndef VF_CLI_H
#define VF_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vramfit/vf_error.h"
#include "vramfit/vf_report.h"
#include "vramfit/vf_tensors.h"

/* Exit codes, documented in `vramfit --help` and README.md. */
enum {
    VF_EXIT_OK = 0,
    VF_EXIT_INTERNAL = 1, /* out of memory or an unexpected failure */
    VF_EXIT_USAGE = 2,    /* bad command line */
    VF_EXIT_IO = 3,       /* a file is missing or unreadable */
    VF_EXIT_INVALID = 4,  /* a file is malformed or hostile */
    VF_EXIT_MISMATCH = 5, /* audit or verify found differences */
    VF_EXIT_RISKY = 10,   /* estimate --check: may work but isn't recommended */
    VF_EXIT_NO_FIT = 11,  /* estimate --check: impossible */
};

/* ---- output buffer (vf_buf, vramfit/vf_report.h) ------------------------------------------------ */
/* Writes the buffer to stdout; returns VF_EXIT_OK (also when the reader has gone: EPIPE), or
 * VF_EXIT_INTERNAL when it is incomplete, VF_EXIT_IO when the write fails (one line on stderr). */
int vf_buf_flush(vf_buf *b);
/* Once at start: SIGPIPE ignored (a closed pipe is EPIPE, a quiet end); fds 0-2 that are closed are
 * held by /dev/null opened read-only, so output files never take stdout's slot and writes to a
 * closed stdout fail. */
void vf_stdio_init(void);
/* At exit: flushes stdout. A write error (EBADF, ENOSPC, ...) turns a successful rc into VF_EXIT_IO
 * with one line on stderr; a reader that has gone (EPIPE) leaves rc as it is, without a message. */
int vf_stdout_finish(int rc);

/* ---- output files (vf_output_prepare / commit, see vramfit/vf_parser.h) --------------------------- */
/* Prepares path with data[0..len): never one of cp's files nor one of `inputs` (NULL-terminated:
 * the PATH given, a manifest read; may be NULL). VF_EXIT_OK with *o set, or one line on stderr and
 * the exit code (2: refused, 3: I/O). */
int vf_cli_output_prepare(const char *path, const vf_checkpoint *cp, const char *const *inputs,
                          const void *data, size_t len, vf_output **o);
/* The end of a command with an output file: writes b to stdout, then (only when that worked)
 * commits o; frees o in every case (an uncommitted output leaves nothing behind). Returns the exit
 * code. o may be NULL. */
int vf_cli_flush_commit(vf_buf *b, vf_output *o);

/* ---- JSON: the writer vf_jw and the documents are the library's (vramfit/vf_report.h) ------------ */

/* ---- options ----------------------------------------------------------------------------------- */
typedef struct vf_opt {
    const char *name; /* long name without "--" */
    char shortc;      /* 0 when none */
    bool arg;         /* takes a value */
    int id;
} vf_opt;

typedef struct vf_args {
    int argc, i;
    char **argv;
    const vf_opt *opts;
    const char *cmd;
    bool only_positional; /* after "--" */
} vf_args;

/* Returns the id of the next option (value in *val), 0 for a positional argument (in *val), -1 at
 * the end, -2 on an unknown option or a missing value (message on stderr). */
int vf_args_next(vf_args *a, const char **val);

/* Parses a non-negative integer option value; prints an error and returns false when invalid. */
bool vf_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
bool vf_parse_double(const char *cmd, const char *opt, const char *s, double *out);

/* ---- choosing among names ------------------------------------------------------------------------
 * Enumerated option values are matched ignoring case (--method LoRA); a word that matches nothing
 * gets the closest candidate: case-insensitive optimal-string-alignment distance (insertions,
 * deletions, substitutions, swaps of neighbours) at most max(1, len/3), or a unique candidate the
 * word is a prefix of. */
const char *vf_suggest(const char *word, const char *const *cands, size_t n);
/* " (did you mean 'X'?)" for the suggestion, else ""; into buf of size n; returns buf. */
const char *vf_did_you_mean(const char *word, const char *const *cands, size_t count, char *buf, size_t n);
/* Index of the candidate equal to word ignoring case, or -1. */
long vf_choice(const char *word, const char *const *cands, size_t n);

/* ---- formatting -------------------------------------------------------------------------------- */
/* "2,533,539,840" into buf (at least 32 bytes); returns buf. */
const char *vf_fmt_count(uint64_t v, char *buf);
/* Bytes in the largest binary unit that keeps the value at least 1 (B, KiB, MiB, GiB, TiB, ...;
 * GiB = 2^30) with three significant digits: "512 B", "16.0 MiB", "4.72 GiB", "141 GiB"; into buf
 * (at least 32 bytes); returns buf. */
const char *vf_fmt_size(uint64_t bytes, char *buf);
/* The binary unit a table of sizes is written in: the largest (B, KiB, MiB, GiB, TiB) in which
 * `largest` is at least 1, so a tiny model's table is not all "0.0 GiB". */
typedef struct vf_unit {
    const char *name; /* "GiB" */
    double bytes;     /* 2^30 */
} vf_unit;
vf_unit vf_table_unit(uint64_t largest);
/* bytes as a bare number in the unit (and with the decimals) vf_fmt_size gives `like`: the low end
 * of "25.4 - 33.0 GiB". */
const char *vf_fmt_size_like(uint64_t bytes, uint64_t like, char *buf);
/* "[14336,4096]" into buf of size n; returns buf. */
const char *vf_fmt_shape(const uint64_t *dims, uint32_t ndim, char *buf, size_t n);

/* ---- text -------------------------------------------------------------------------------------- */
/* (vf_utf8_char, the UTF-8 decoder, is the library's: vramfit/vf_report.h.) */
/* Appends s with every control character (C0, DEL, C1), newline included, and every byte that is not
 * valid UTF-8 written as \xHH: the text of a one-line diagnostic, whatever a file name or an
 * argument holds. */
void vf_text_escape(vf_buf *b, const char *s);
/* Every diagnostic on stderr: label (written as is: it may hold the color of "error:"), then the
 * formatted message through vf_text_escape, then a newline. */
void vf_diag(const char *label, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void vf_diagv(const char *label, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;

/* ---- errors ------------------------------------------------------------------------------------ */
/* Prints "vramfit: error: <formatted>" on stderr and returns the exit code for err->code. */
int vf_cli_fail(const vf_error *err);
int vf_exit_code(int status);
/* Prints "vramfit CMD: MESSAGE" on stderr and returns VF_EXIT_USAGE. */
int vf_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Options every command that opens a checkpoint accepts: --revision REV and --hf-cache DIR. Returns
 * true when the option id was one of them and has been stored. */
enum { VF_OPT_REVISION = 1000, VF_OPT_HF_CACHE, VF_OPT_HELP };
#define VF_COMMON_OPTS                                                                              \
    {"revision", 0, true, VF_OPT_REVISION}, {"hf-cache", 0, true, VF_OPT_HF_CACHE},                  \
        {"help", 'h', false, VF_OPT_HELP}
bool vf_common_opt(int id, const char *val, vf_open_options *o);

/* ---- user interface: verbosity and color --------------------------------------------------------
 * -q/--quiet and -v/--verbose are accepted by every command (vf_args_next handles them before the
 * command's own table; main.c before the command name). --quiet: results only, no notes, findings or
 * progress on stderr; --verbose: more detail. Color: human output on stdout only when it is a
 * terminal and NO_COLOR is unset or empty (https://no-color.org); "error:" on stderr likewise. JSON
 * and CSV never use vf_sty. */
typedef enum vf_verbosity { VF_QUIET = -1, VF_NORMAL = 0, VF_VERBOSE = 1 } vf_verbosity;
typedef enum vf_style { VF_STY_RESET, VF_STY_BOLD, VF_STY_GREEN, VF_STY_YELLOW, VF_STY_RED } vf_style;

/* Decides color for stdout and stderr (isatty, NO_COLOR); called once by main. */
void vf_ui_init(void);
void vf_ui_set_verbosity(vf_verbosity v);
bool vf_ui_quiet(void);
bool vf_ui_verbose(void);
/* The escape sequence of s for stdout; "" when color is off. */
const char *vf_sty(vf_style s);
/* "error:" for stderr, red when stderr is a colored terminal. */
const char *vf_error_label(void);
/* Sets the verbosity when arg is -q, --quiet, -v or --verbose; returns whether it was one. */
bool vf_ui_global_opt(const char *arg);
/* Prints the --help lines of -q/--quiet and -v/--verbose on stdout (every command's help has them). */
void vf_print_global_help(void);

/* ---- subcommands ------------------------------------------------------------------------------- */
int vf_cmd_inspect(int argc, char **argv);
int vf_cmd_adapters(int argc, char **argv);
int vf_cmd_audit(int argc, char **argv);
int vf_cmd_snapshot(int argc, char **argv);
int vf_cmd_verify(int argc, char **argv);
int vf_cmd_estimate(int argc, char **argv);
int vf_cmd_plan(int argc, char **argv);
int vf_cmd_place(int argc, char **argv);
int vf_cmd_gpus(int argc, char **argv);

#endif
