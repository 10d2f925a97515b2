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

/* ---- output buffer (vf_buf, vramfit/vf_report.h) ----------------------------------------------- */
/* Writes the buffer to stdout; returns VF_EXIT_OK (also when the reader has gone: EPIPE), or
 * VF_EXIT_INTERNAL when it is incomplete, VF_EXIT_IO when the write fails (one line on stderr). */
int vf_buf_flush(vf_buf *b);
/* Readies stdout for a document written in pieces (vf_report_write_fn): false for a terminal (it
 * gets the whole buffer, made safe to show, through vf_buf_flush); else true, after widening stdout
 * to 1 MiB when it is a pipe (F_SETPIPE_SZ; refused above pipe-max-size, then it stays as it is). */
bool vf_stdout_stream_begin(void);
/* vf_report_write_fn onto stdout: 0, or non-zero with the write's errno kept in *(int *)ctx. */
int vf_stdout_write(void *ctx, const char *data, size_t len);
/* The end of a streamed document: flushes stdout; VF_EXIT_OK (also when the reader has gone) or
 * VF_EXIT_IO with one line on stderr. e: the errno vf_stdout_write kept (0: none). */
int vf_stdout_streamed(int e);
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

/* ---- JSON: the writer vf_jw and the documents are the library's (vramfit/vf_report.h) ---------- */

/* ---- commands and their options ----------------------------------------------------------------
 * Every command is one vf_command: its name and summary (a line of `vramfit --help`), its operand,
 * the text of its --help around the options and one option table. The table is the only list of a
 * command's options: vf_cli_parse matches argv against it, vf_cli_help prints the option lines of
 * --help from it, and the hidden `vramfit __options CMD` lists it for the shell completions and the
 * tests that check the man page (tests/test_completion.sh, tests/test_docs.sh). */
typedef enum vf_opt_values {
    VF_VALUES_NONE,   /* a free value (or a flag): nothing to offer */
    VF_VALUES_LIST,   /* the words of .values */
    VF_VALUES_FILE,   /* a file name */
    VF_VALUES_DIR,    /* a directory */
    VF_VALUES_GPU,    /* the words of .values (may be NULL), then the built-in GPU names */
    VF_VALUES_FAMILY, /* the library's Training Hub families (vf_family_name_at) */
    VF_VALUES_LEVER,  /* the names of the detailed estimator's lever .lever (vf_dt_lever_name) */
} vf_opt_values;

/* One row of an option table. A row without a name is a line of help text (`help`, printed as is
 * with a newline), a column change (`column` > 0: where the option help starts from here on) or,
 * all zero, the end of the table. */
typedef struct vf_opt {
    const char *name;   /* long name without "--" */
    char shortc;        /* 0 when none */
    const char *meta;   /* the value's placeholder in --help ("N", "SIZE"); NULL: a flag */
    int id;             /* what the command's handler switches on */
    const char *help;   /* help text; lines after the first start at the column; "{values}" is
                           replaced by the values, wrapped; NULL: a neighbouring text row says it */
    vf_opt_values complete;
    const char *values; /* space-separated, for VF_VALUES_LIST and VF_VALUES_GPU */
    int lever;          /* the vf_dt_lever of VF_VALUES_LEVER */
    int column;         /* only in a column row */
} vf_opt;

#define VF_OPT_END {0}
#define VF_OPT_TEXT(text) {.help = (text)}
#define VF_OPT_COLUMN(n) {.column = (n)}

/* Ids of the options several commands share; a command's own ids are small positive numbers. */
enum { VF_OPT_REVISION = 1000, VF_OPT_HF_CACHE, VF_OPT_HELP, VF_OPT_QUIET, VF_OPT_VERBOSE };
#define VF_OPT_REVISION_HELP "Hugging Face cache snapshot (branch, tag or commit) instead of main"
#define VF_OPT_HF_CACHE_HELP "Hugging Face hub cache directory to search"
/* --revision REV and --hf-cache DIR, stored by vf_cli_parse in vf_cmdline.open. */
#define VF_OPEN_OPTS                                                                                \
    {"revision", 0, "REV", VF_OPT_REVISION, VF_OPT_REVISION_HELP},                                  \
        {"hf-cache", 0, "DIR", VF_OPT_HF_CACHE, VF_OPT_HF_CACHE_HELP, VF_VALUES_DIR}
/* -q, -v and -h of every command, the last rows of every table: -q/-v set the verbosity wherever
 * they stand (vf_ui_global_opt), -h prints the help. */
#define VF_GLOBAL_OPTS                                                                              \
    VF_OPT_COLUMN(24), {"quiet", 'q', NULL, VF_OPT_QUIET, "results only: no notes, findings or progress on stderr"}, \
        {"verbose", 'v', NULL, VF_OPT_VERBOSE, "more detail (files, target family, formulas)"},     \
        {"help", 'h', NULL, VF_OPT_HELP, "this help"}

/* What the argument loop stores itself. */
typedef struct vf_cmdline {
    const char *operand;   /* PATH (ADAPTER_DIR); NULL when the command takes none */
    vf_open_options open;  /* --revision, --hf-cache */
} vf_cmdline;

/* A command's option handler: stores `opt` (with `val`, NULL for a flag) into the command's parsed
 * options `opts`; returns VF_EXIT_OK, or the exit code after one line on stderr. */
typedef int (*vf_opt_handler)(void *opts, const vf_opt *opt, const char *val);

typedef struct vf_command {
    const char *name;
    const char *summary;  /* its line in `vramfit --help` */
    const char *operand;  /* "PATH", "ADAPTER_DIR", or NULL when it takes no argument */
    const char *synopsis; /* --help before the options: usage and description, ending "\n\n" */
    const vf_opt *options;
    const char *footer;   /* --help after the options */
    void (*footer_more)(void); /* prints the rest of the help after footer; may be NULL */
    int (*run)(int argc, char **argv);
} vf_command;

#define VF_CLI_CONTINUE (-1) /* vf_cli_parse: the command has its options and runs */

/* The argument loop of every command: -q/-v anywhere, "--" ends the options, --name=VALUE, an
 * unknown option gets "did you mean" among the table's names; the operand (one) and the open
 * options go into *line, every other option to store(opts, ...). Returns VF_CLI_CONTINUE, or the
 * exit code: VF_EXIT_OK after --help (printed), VF_EXIT_USAGE or the handler's code after one line
 * on stderr (also for a missing or second operand). */
int vf_cli_parse(const vf_command *cmd, int argc, char **argv, vf_cmdline *line, void *opts,
                 vf_opt_handler store);
/* Prints the command's --help on stdout: synopsis, the option rows, footer. */
void vf_cli_help(const vf_command *cmd);
/* `vramfit __options CMD`: one line per option of the table, tab-separated:
 * --NAME, -S or "-", META or "-", KIND (flag, value, list, file, dir), the values space-separated
 * (KIND list only, else empty). */
void vf_cli_list_options(const vf_opt *options);

/* The commands, in the order of `vramfit --help`. */
extern const vf_command vf_inspect_command, vf_adapters_command, vf_audit_command, vf_snapshot_command,
    vf_verify_command, vf_estimate_command, vf_plan_command, vf_place_command, vf_gpus_command;

/* --adapter-dtype of adapters and estimate --estimator detailed: the library's names
 * (vf_adapter_dtype_from_name), ignoring case; an error names them. */
#define VF_ADAPTER_DTYPES "F32 BF16 F16"
int vf_cli_adapter_dtype(const char *cmd, const vf_opt *opt, const char *val, vf_dtype *out);

/* "--method must be sft, osft, lora, qlora or all, got 'X' (did you mean 'Y'?)" unless val is one of
 * the words of opt->values (ignoring case); *index is the word's position. */
int vf_opt_choice(const char *cmd, const vf_opt *opt, const char *val, size_t *index);

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

/* ---- errors and findings -------------------------------------------------------------------------
 * Every error is one line on stderr in one of two forms: a bad command line names the command,
 * "vramfit CMD: MESSAGE" (vf_usage_error, exit 2); anything else is "vramfit: error: MESSAGE"
 * (vf_cli_error, vf_cli_fail), "error:" red when stderr is a colored terminal. */
/* Prints "vramfit: error: <formatted>" on stderr and returns exit_code. */
int vf_cli_error(int exit_code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* vf_cli_error with err formatted (file, tensor, message); returns the exit code for err->code. */
int vf_cli_fail(const vf_error *err);
/* The one way findings are shown to people: each as "<indent>SEVERITY: MESSAGE" with the severity
 * word of the JSON documents ("warning", yellow on a terminal, or "info"). */
void vf_cli_findings(vf_buf *b, const char *indent, const vf_findings *f);
int vf_exit_code(int status);
/* Prints "vramfit CMD: MESSAGE" on stderr and returns VF_EXIT_USAGE. */
int vf_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- user interface: verbosity and color --------------------------------------------------------
 * -q/--quiet and -v/--verbose are accepted by every command (vf_cli_parse handles them before the
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

#endif
