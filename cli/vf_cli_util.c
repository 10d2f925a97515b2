/* vf_cli_util.c - stdout and output files, option parsing and formatting for the CLI. */
#define _GNU_SOURCE /* F_SETPIPE_SZ (Linux) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vf_cli.h"

/* ---- output buffer ----------------------------------------------------------------------------- */

/* Style markers: vf_sty() emits STYLE_MARK + digit, turned into an SGR sequence only on the way to a
 * terminal, so that every other control byte (from tensor names, paths) can be neutralised there. */
#define STYLE_MARK '\001'
static const char *const sgr[] = {"\033[0m", "\033[1m", "\033[32m", "\033[33m", "\033[31m"};
#define SGR_COUNT (sizeof sgr / sizeof sgr[0])

/* Rewrites b for a terminal: style markers become SGR sequences; any other control byte except
 * newline and tab becomes '?', so a hostile name cannot drive the terminal. Returns 0, or -1 when
 * out of memory (b unchanged). */
static int vf_buf_for_terminal(vf_buf *b)
{
    vf_buf t = {0};
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c == STYLE_MARK && i + 1 < b->len && (unsigned)(b->data[i + 1] - '0') < SGR_COUNT) {
            const char *seq = sgr[b->data[++i] - '0'];
            vf_buf_put(&t, seq, strlen(seq));
        } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            vf_buf_put(&t, "?", 1);
        } else {
            vf_buf_put(&t, (const char *)&c, 1);
        }
    }
    if (t.failed) {
        vf_buf_free(&t);
        return -1;
    }
    vf_buf_free(b);
    *b = t;
    return 0;
}

/* True when stdout is a pipe or socket whose reader has gone (`| head -c1`): poll() reports an
 * error condition on it. */
static bool stdout_reader_gone(void)
{
    struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* A failed write to stdout: quiet when the reader has gone (EPIPE; SIGPIPE is ignored), the
 * command's own result then stands; otherwise one line and VF_EXIT_IO. */
static int stdout_failed(int e)
{
    if (e == EPIPE || stdout_reader_gone())
        return VF_EXIT_OK;
    if (e)
        return vf_cli_error(VF_EXIT_IO, "cannot write to stdout: %s", strerror(e));
    return vf_cli_error(VF_EXIT_IO, "cannot write to stdout");
}

int vf_buf_flush(vf_buf *b)
{
    if (b->failed || (isatty(STDOUT_FILENO) && vf_buf_for_terminal(b) != 0))
        return vf_cli_error(VF_EXIT_INTERNAL, "out of memory while building the output");
    errno = 0;
    if ((b->len && fwrite(b->data, 1, b->len, stdout) != b->len) || fflush(stdout) != 0)
        return stdout_failed(errno);
    return VF_EXIT_OK;
}

bool vf_stdout_stream_begin(void)
{
    if (isatty(STDOUT_FILENO))
        return false;
#ifdef F_SETPIPE_SZ
    /* A pipe of 1 MiB instead of 64 KiB: the pieces of a large document then cost the writer and its
     * reader 16 times fewer waits for each other (a failure, e.g. above pipe-max-size, keeps it). */
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode))
        (void)fcntl(STDOUT_FILENO, F_SETPIPE_SZ, 1 << 20);
#endif
    return true;
}

int vf_stdout_write(void *ctx, const char *data, size_t len)
{
    errno = 0;
    if (fwrite(data, 1, len, stdout) == len)
        return 0;
    *(int *)ctx = errno ? errno : EIO;
    return 1;
}

int vf_stdout_streamed(int e)
{
    errno = 0;
    if (e == 0 && fflush(stdout) != 0)
        e = errno ? errno : EIO;
    return e ? stdout_failed(e) : VF_EXIT_OK;
}

void vf_stdio_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* A closed 0, 1 or 2 would be handed to the next open(): an output file would receive what was
     * meant for stdout. /dev/null read-only holds the slot, and a write to it fails (EBADF). */
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", O_RDONLY);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        }
}

int vf_stdout_finish(int rc)
{
    errno = 0;
    bool bad = fflush(stdout) != 0;
    int e = errno;
    bad |= ferror(stdout) != 0;
    if (!bad)
        return rc;
    int out = stdout_failed(rc == VF_EXIT_OK ? e : EPIPE); /* a failed command has said why */
    return rc != VF_EXIT_OK ? rc : out;
}

int vf_cli_output_prepare(const char *path, const vf_checkpoint *cp, const char *const *inputs,
                          const void *data, size_t len, vf_output **o)
{
    vf_error err = {0};
    if (vf_output_prepare(path, cp, inputs, data, len, o, &err) != VF_OK)
        return vf_cli_fail(&err);
    return VF_EXIT_OK;
}

int vf_cli_flush_commit(vf_buf *b, vf_output *o)
{
    vf_error err = {0};
    int rc = vf_buf_flush(b);
    if (rc == VF_EXIT_OK && o && vf_output_commit(o, &err) != VF_OK)
        rc = vf_cli_fail(&err);
    vf_output_free(o);
    return rc;
}

/* ---- user interface ---------------------------------------------------------------------------- */

static struct {
    vf_verbosity verbosity;
    bool color_out, color_err;
} ui;

static bool color_wanted(int fd)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fd) && !(no && *no);
}

void vf_ui_init(void)
{
    ui.color_out = color_wanted(STDOUT_FILENO);
    ui.color_err = color_wanted(STDERR_FILENO);
}

void vf_ui_set_verbosity(vf_verbosity v) { ui.verbosity = v; }
bool vf_ui_quiet(void) { return ui.verbosity == VF_QUIET; }
bool vf_ui_verbose(void) { return ui.verbosity == VF_VERBOSE; }

const char *vf_sty(vf_style s)
{
    static const char *const marks[] = {"\0010", "\0011", "\0012", "\0013", "\0014"};
    return ui.color_out && (unsigned)s < SGR_COUNT ? marks[s] : "";
}

const char *vf_error_label(void)
{
    return ui.color_err ? "\033[31merror:\033[0m" : "error:";
}

bool vf_ui_global_opt(const char *arg)
{
    if (strcmp(arg, "-q") == 0 || strcmp(arg, "--quiet") == 0)
        vf_ui_set_verbosity(VF_QUIET);
    else if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)
        vf_ui_set_verbosity(VF_VERBOSE);
    else
        return false;
    return true;
}

/* ---- text: diagnostics ------------------------------------------------------------------------- */

void vf_text_escape(vf_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
        uint32_t cp;
        size_t n = vf_utf8_char(p, &cp);
        bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); /* C0, DEL and C1 (CSI is U+009B) */
        if (cp == UINT32_MAX || control) {
            for (size_t i = 0; i < n; i++)
                vf_buf_printf(b, "\\x%02x", p[i]);
        } else {
            vf_buf_put(b, (const char *)p, n);
        }
        p += n;
    }
}

void vf_diag(const char *label, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vf_diagv(label, fmt, ap);
    va_end(ap);
}

void vf_diagv(const char *label, const char *fmt, va_list ap)
{
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    vf_buf b = {0};
    vf_text_escape(&b, msg);
    fprintf(stderr, "%s%s\n", label ? label : "", b.failed || !b.data ? "(out of memory)" : b.data);
    vf_buf_free(&b);
}

/* ---- option values ----------------------------------------------------------------------------- */

bool vf_parse_u64(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!s || *s < '0' || *s > '9') { /* strtoull would take blanks, a sign and wrap "-1" around */
        vf_usage_error(cmd, "--%s expects a non-negative integer, got '%s'", opt, s ? s : "");
        return false;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) {
        vf_usage_error(cmd, "--%s expects a non-negative integer, got '%s'", opt, s);
        return false;
    }
    *out = v;
    return true;
}

bool vf_parse_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    /* decimal only: strtod would also take blanks, '+', hex ("0x1p-1"), "inf" and "nan" */
    bool decimal = s && ((*s >= '0' && *s <= '9') || *s == '.' || *s == '-') && !strpbrk(s, "xXpP");
    double v = decimal ? strtod(s, &end) : NAN;
    if (!decimal || errno || *end || !isfinite(v)) {
        vf_usage_error(cmd, "--%s expects a number, got '%s'", opt, s ? s : "");
        return false;
    }
    *out = v;
    return true;
}

/* ---- choosing among names ---------------------------------------------------------------------- */

#define SUGGEST_MAX 64 /* longer words are not compared */

static int fold(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Optimal string alignment distance of a and b, ignoring case (both at most SUGGEST_MAX). */
static size_t osa_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = fold((unsigned char)a[i - 1]) != fold((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && fold((unsigned char)a[i - 1]) == fold((unsigned char)b[j - 2]) &&
                fold((unsigned char)a[i - 2]) == fold((unsigned char)b[j - 1]) && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

static bool prefix_ci(const char *word, const char *cand)
{
    for (; *word; word++, cand++)
        if (fold((unsigned char)*word) != fold((unsigned char)*cand))
            return false;
    return true;
}

const char *vf_suggest(const char *word, const char *const *cands, size_t n)
{
    size_t len = word ? strlen(word) : 0;
    if (!len || len > SUGGEST_MAX)
        return NULL;
    size_t limit = len / 3 > 1 ? len / 3 : 1, best_d = limit + 1, prefixed = 0;
    const char *best = NULL, *prefix = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i] || strlen(cands[i]) > SUGGEST_MAX)
            continue;
        size_t dist = osa_distance(word, cands[i]);
        if (dist < best_d)
            best_d = dist, best = cands[i];
        if (prefix_ci(word, cands[i]) && prefixed++ == 0)
            prefix = cands[i];
    }
    return best ? best : prefixed == 1 ? prefix : NULL;
}

const char *vf_did_you_mean(const char *word, const char *const *cands, size_t count, char *buf, size_t n)
{
    const char *s = vf_suggest(word, cands, count);
    if (s)
        snprintf(buf, n, " (did you mean '%s'?)", s);
    else if (n)
        buf[0] = '\0';
    return buf;
}

long vf_choice(const char *word, const char *const *cands, size_t n)
{
    for (size_t i = 0; word && i < n; i++)
        if (strcasecmp(word, cands[i]) == 0)
            return (long)i;
    return -1;
}

/* ---- formatting -------------------------------------------------------------------------------- */

const char *vf_fmt_count(uint64_t v, char *buf)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static const char *const size_units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
#define SIZE_UNITS (sizeof size_units / sizeof size_units[0])
#define TIB_UNIT 4 /* size_units[TIB_UNIT] is "TiB" */

/* The unit index and decimals vf_fmt_size uses for bytes. */
static void size_scale(uint64_t bytes, size_t *unit, int *decimals)
{
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < SIZE_UNITS)
        v /= 1024.0, u++;
    int d = u == 0 ? 0 : v < 9.995 ? 2 : v < 99.95 ? 1 : 0; /* three significant digits */
    if (u && u + 1 < SIZE_UNITS && v >= 1023.5) /* 1023.7 KiB rounds to 1.00 MiB */
        u++, d = 2;
    *unit = u;
    *decimals = d;
}

static double in_unit(uint64_t bytes, size_t unit)
{
    double v = (double)bytes;
    for (size_t i = 0; i < unit; i++)
        v /= 1024.0;
    return v;
}

const char *vf_fmt_size(uint64_t bytes, char *buf)
{
    size_t u;
    int d;
    size_scale(bytes, &u, &d);
    snprintf(buf, 32, "%.*f %s", d, in_unit(bytes, u), size_units[u]);
    return buf;
}

vf_unit vf_table_unit(uint64_t largest)
{
    size_t u = 0;
    double v = (double)largest, scale = 1.0;
    while (v >= 1024.0 && u < TIB_UNIT) /* at most TiB */
        v /= 1024.0, scale *= 1024.0, u++;
    return (vf_unit){size_units[u], scale};
}

const char *vf_fmt_size_like(uint64_t bytes, uint64_t like, char *buf)
{
    size_t u;
    int d;
    size_scale(like, &u, &d);
    snprintf(buf, 32, "%.*f", d, in_unit(bytes, u));
    return buf;
}

const char *vf_fmt_shape(const uint64_t *dims, uint32_t ndim, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (uint32_t i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
    if (o < n)
        snprintf(buf + o, n - o, "]");
    return buf;
}

/* ---- errors ------------------------------------------------------------------------------------ */

int vf_exit_code(int status)
{
    switch (vf_status_class(status)) {
    case 'o':
        return VF_EXIT_OK;
    case 'u':
        return VF_EXIT_USAGE;
    case 'i':
        return VF_EXIT_IO;
    case 'd':
        return VF_EXIT_INVALID;
    case 'x':
        return VF_EXIT_MISMATCH;
    default:
        return VF_EXIT_INTERNAL;
    }
}

int vf_cli_error(int exit_code, const char *fmt, ...)
{
    char label[64];
    snprintf(label, sizeof label, "vramfit: %s ", vf_error_label());
    va_list ap;
    va_start(ap, fmt);
    vf_diagv(label, fmt, ap);
    va_end(ap);
    return exit_code;
}

int vf_cli_fail(const vf_error *err)
{
    char line[VF_ERROR_FILE_MAX + VF_ERROR_TENSOR_MAX + VF_ERROR_MESSAGE_MAX + 32];
    return vf_cli_error(vf_exit_code(err->code), "%s", vf_error_format(err, line, sizeof line));
}

void vf_cli_findings(vf_buf *b, const char *indent, const vf_findings *f)
{
    for (size_t i = 0; i < vf_findings_count(f); i++) {
        bool warn = vf_findings_get(f, i)->severity == VF_SEV_WARNING;
        vf_buf_printf(b, "%s%s%s%s: %s\n", indent, warn ? vf_sty(VF_STY_YELLOW) : "", warn ? "warning" : "info",
                      warn ? vf_sty(VF_STY_RESET) : "", vf_findings_get(f, i)->message);
    }
}

int vf_usage_error(const char *cmd, const char *fmt, ...)
{
    char label[64];
    snprintf(label, sizeof label, "vramfit%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vf_diagv(label, fmt, ap);
    va_end(ap);
    return VF_EXIT_USAGE;
}
