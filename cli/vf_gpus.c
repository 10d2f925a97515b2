/* vf_gpus.c - SIZE parsing, the built-in accelerator table and the nvidia-smi / rocm-smi queries of
 * --gpu auto (see vf_gpus.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "vf_cli.h"
#include "vf_gpus.h"

#define KIB UINT64_C(1024)
#define GIB (KIB * KIB * KIB)

/* ---- SIZE ---------------------------------------------------------------------------------------- */

typedef struct size_unit {
    const char *name; /* lower case */
    uint64_t bytes;
} size_unit;

static const size_unit size_units[] = {
    {"b", 1},
    {"kb", UINT64_C(1000)},
    {"mb", UINT64_C(1000000)},
    {"gb", UINT64_C(1000000000)},
    {"tb", UINT64_C(1000000000000)},
    {"kib", KIB},
    {"mib", KIB * KIB},
    {"gib", GIB},
    {"tib", GIB * KIB},
};

#define SIZE_FRACTION_DIGITS 6 /* 10^6 x 10^12 (TB) stays below 2^64 */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Case-insensitive exact match of unit text u (NUL-terminated) in the table; NULL when unknown. */
static const size_unit *find_unit(const char *u)
{
    char low[8];
    size_t n = strlen(u);
    if (n >= sizeof low)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)lower((unsigned char)u[i]);
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++)
        if (strcmp(size_units[i].name, low) == 0)
            return &size_units[i];
    return NULL;
}

/* Reads digits at *p into *v (checked); returns the number of digits, or -1 on overflow. */
static int read_digits(const char **p, uint64_t *v, int max_digits)
{
    int n = 0;
    *v = 0;
    for (; is_digit(**p); (*p)++, n++) {
        if (max_digits >= 0 && n >= max_digits)
            return -1;
        if (*v > (UINT64_MAX - 9) / 10)
            return -1;
        *v = *v * 10 + (uint64_t)(**p - '0');
    }
    return n;
}

static bool size_fail(char *why, const char *s, const char *reason)
{
    snprintf(why, VF_GPU_MSG_MAX, "'%s' is not a valid SIZE: %s", s, reason);
    return false;
}

/* A number without unit: the two readings a person may mean, with their byte counts. */
static bool bare_number(char *why, const char *s, uint64_t n)
{
    char gib[32] = "more than 2^64", gb[32] = "more than 2^64";
    if (n <= UINT64_MAX / GIB)
        vf_fmt_count(n * GIB, gib);
    if (n <= UINT64_MAX / UINT64_C(1000000000))
        vf_fmt_count(n * UINT64_C(1000000000), gb);
    snprintf(why, VF_GPU_MSG_MAX,
             "'%s' has no unit: %s GiB (%s bytes) or %s GB (%s bytes)? write %sGiB, %sGB, or %sB for "
             "bytes", s, s, gib, s, gb, s, s, s);
    return false;
}

bool vf_parse_size(const char *s, uint64_t *out, char *why)
{
    const char *p = s ? s : "";
    uint64_t whole = 0, frac = 0, scale = 1;
    int nw = read_digits(&p, &whole, -1), nf = 0;
    if (nw < 0)
        return size_fail(why, s, "the number is too large");
    if (*p == '.') {
        p++;
        nf = read_digits(&p, &frac, SIZE_FRACTION_DIGITS);
        if (nf < 0)
            return size_fail(why, s, "at most 6 decimal places");
        for (int i = 0; i < nf; i++)
            scale *= 10;
    }
    if (nw == 0 && nf == 0)
        return size_fail(why, s, "expected a number such as 48GiB, 80GB, 81920MiB or a byte count");
    while (*p == ' ')
        p++;
    if (!*p && nf == 0) /* issue 11: "--gpu-memory 80" meant 80 bytes; a person means GiB or GB */
        return bare_number(why, s, whole);
    if (!*p)
        return size_fail(why, s, "a number needs a unit: B, KB, MB, GB, TB or KiB, MiB, GiB, TiB");
    const size_unit *u = find_unit(p);
    if (!u && strlen(p) == 1 && strchr("kKmMgGtT", *p))
        return size_fail(why, s, "ambiguous unit; write GB (10^9 bytes) or GiB (2^30 bytes), etc.");
    if (!u)
        return size_fail(why, s, "unknown unit (use B, KB, MB, GB, TB for powers of 1000 or KiB, "
                                 "MiB, GiB, TiB for powers of 1024)");
    uint64_t bytes;
    if (whole > UINT64_MAX / u->bytes)
        return size_fail(why, s, "more than 2^64 bytes");
    bytes = whole * u->bytes;
    uint64_t part = frac * u->bytes / scale; /* frac < 10^6, unit <= 10^12: no overflow */
    if (bytes > UINT64_MAX - part)
        return size_fail(why, s, "more than 2^64 bytes");
    bytes += part;
    if (bytes == 0)
        return size_fail(why, s, "must be at least 1 byte");
    *out = bytes;
    return true;
}

/* ---- the table ------------------------------------------------------------------------------------
 * Nominal capacities from the vendors' data sheets. GPU memory is built from power-of-two devices,
 * so the "GB" of a data sheet is GiB here (NVIDIA's "80 GB" A100 has 81,920 MiB); nvidia-smi shows a
 * little less (e.g. 81,559 MiB on an H100 80GB, 46,068 MiB on an L40S with ECC on) because the driver
 * and ECC reserve some; `--gpu auto` uses what the driver reports. */
static const vf_gpu_model gpu_table[] = {
    {"A100-40GB", "A100-SXM4-40GB,A100-PCIE-40GB", 40 * GIB, "40 GB HBM2"},
    {"A100-80GB", "A100-SXM4-80GB,A100-PCIE-80GB", 80 * GIB, "80 GB HBM2e"},
    {"H100-80GB", "H100,H100-SXM5-80GB,H100-PCIE-80GB", 80 * GIB, "80 GB HBM3"},
    {"H100-NVL", "H100-NVL-94GB", 94 * GIB, "94 GB HBM3"},
    {"H200", "H200-141GB,H200-SXM-141GB,H200-NVL", 141 * GIB, "141 GB HBM3e"},
    {"L40S", "", 48 * GIB, "48 GB GDDR6"},
    {"L40", "", 48 * GIB, "48 GB GDDR6"},
    {"L4", "", 24 * GIB, "24 GB GDDR6"},
    {"A10G", "", 24 * GIB, "24 GB GDDR6"},
    {"A10", "", 24 * GIB, "24 GB GDDR6"},
    {"T4", "", 16 * GIB, "16 GB GDDR6"},
    {"V100-16GB", "V100-SXM2-16GB,V100-PCIE-16GB", 16 * GIB, "16 GB HBM2"},
    {"V100-32GB", "V100-SXM2-32GB,V100-PCIE-32GB", 32 * GIB, "32 GB HBM2"},
    {"RTX-4090", "GeForce-RTX-4090", 24 * GIB, "24 GB GDDR6X"},
    {"RTX-3090", "GeForce-RTX-3090", 24 * GIB, "24 GB GDDR6X"},
    {"RTX-A6000", "A6000", 48 * GIB, "48 GB GDDR6"},
    {"RTX-6000-Ada", "RTX-6000-Ada-Generation", 48 * GIB, "48 GB GDDR6"},
    {"MI300X", "Instinct-MI300X", 192 * GIB, "192 GB HBM3"},
    {"MI325X", "Instinct-MI325X", 256 * GIB, "256 GB HBM3E"},
    /* Added for issue 11. Per-GPU figures of the vendors' pages; system totals divided by the GPUs
     * they hold where the page gives only those:
     *   B200: DGX B200, "1,440 GB total GPU memory" for 8 GPUs (nvidia.com/en-us/data-center/dgx-b200)
     *   GB200: GB200 NVL72, "up to 13.4 TB HBM3e" for 72 GPUs, 186 GB each
     *          (nvidia.com/en-us/data-center/gb200-nvl72)
     *   B300: HGX B300, "2.3 TB" for 8 GPUs, 288 GB each (nvidia.com/en-us/data-center/hgx)
     *   H20: "96 GB HBM3" (NVIDIA H20 product brief)
     *   MI250X, MI250: "128 GB HBM2e" (amd.com/en/products/accelerators/instinct/mi200)
     *   MI355X: "288 GB HBM3E" (amd.com/en/products/accelerators/instinct/mi350)
     *   Gaudi 3: "128 GB HBM2e" (Intel Gaudi 3 AI accelerator white paper; HL-325L is the OAM card)
     *   Gaudi 2: "96 GB HBM2E" (habana.ai Gaudi 2 product page; HL-225H)
     *   RTX 5090: "32 GB GDDR7" (nvidia.com GeForce RTX 5090 specifications)
     * B200's 180 GB shows as about 179 GiB in nvidia-smi, like the other "GB as GiB" rows above. */
    {"B200", "B200-180GB,HGX-B200,DGX-B200", 180 * GIB, "180 GB HBM3e"},
    {"GB200", "GB200-NVL72,GB200-186GB", 186 * GIB, "186 GB HBM3e"},
    {"B300", "B300-288GB,HGX-B300", 288 * GIB, "288 GB HBM3e"},
    {"H20", "H20-96GB", 96 * GIB, "96 GB HBM3"},
    {"MI250X", "Instinct-MI250X", 128 * GIB, "128 GB HBM2e"},
    {"MI250", "Instinct-MI250", 128 * GIB, "128 GB HBM2e"},
    {"MI355X", "Instinct-MI355X", 288 * GIB, "288 GB HBM3E"},
    {"Gaudi3", "Gaudi-3,HL-325L,HL-325", 128 * GIB, "128 GB HBM2e"},
    {"Gaudi2", "Gaudi-2,HL-225H,HL-225", 96 * GIB, "96 GB HBM2E"},
    {"RTX-5090", "GeForce-RTX-5090", 32 * GIB, "32 GB GDDR7"},
};

const vf_gpu_model *vf_gpu_table(size_t *count)
{
    *count = sizeof gpu_table / sizeof gpu_table[0];
    return gpu_table;
}

/* Words of a GPU name that do not tell GPUs apart: vendor and brand names, form factors and memory
 * types, as nvidia-smi ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "Tesla T4", "NVIDIA
 * GeForce RTX 4090") and rocm-smi ("AMD Instinct MI300X") print them. */
static bool noise_word(const char *w, size_t n)
{
    static const char *const words[] = {"nvidia", "amd", "intel", "habana", "tesla", "instinct", "geforce",
                                        "radeon", "pcie", "sxm", "sxm2", "sxm4", "sxm5", "oam", "generation",
                                        NULL};
    for (size_t i = 0; words[i]; i++)
        if (strlen(words[i]) == n && strncmp(w, words[i], n) == 0)
            return true;
    return (n > 3 && strncmp(w, "hbm", 3) == 0) || (n > 4 && strncmp(w, "gddr", 4) == 0);
}

/* Lower-cases s[0..n) into out[VF_GPU_NAME_MAX] as its words (split at ' ', '-', '_') without the
 * noise words, joined; a '/' ends the name (rocm-smi's "MI250X/MI250"). False when too long. */
static bool normalize(const char *s, size_t n, char *out)
{
    size_t o = 0;
    const char *slash = memchr(s, '/', n);
    if (slash)
        n = (size_t)(slash - s);
    for (size_t i = 0; i < n;) {
        while (i < n && (s[i] == ' ' || s[i] == '-' || s[i] == '_'))
            i++;
        size_t start = o;
        for (; i < n && s[i] != ' ' && s[i] != '-' && s[i] != '_'; i++) {
            if (o + 1 >= VF_GPU_NAME_MAX)
                return false;
            out[o++] = (char)lower((unsigned char)s[i]);
        }
        if (noise_word(out + start, o - start))
            o = start;
    }
    out[o] = '\0';
    return true;
}

/* True when the normalized want equals one of the comma-separated spellings in list. */
static bool list_has(const char *list, const char *want)
{
    char norm[VF_GPU_NAME_MAX];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n && normalize(p, n, norm) && strcmp(norm, want) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

const vf_gpu_model *vf_gpu_find(const char *name)
{
    char want[VF_GPU_NAME_MAX];
    if (!name || !normalize(name, strlen(name), want) || !*want)
        return NULL;
    for (size_t i = 0; i < sizeof gpu_table / sizeof gpu_table[0]; i++)
        if (list_has(gpu_table[i].name, want) || list_has(gpu_table[i].aliases, want))
            return &gpu_table[i];
    return NULL;
}

/* ---- running a probe tool ---------------------------------------------------------------------- */

#define SMI_OUTPUT_MAX (64 * 1024)

/* First executable `tool` in $PATH into out[n]; false when none. An empty PATH entry means the
 * current directory, as for execvp. */
static bool find_on_path(const char *tool, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    for (const char *p = path;;) {
        size_t len = strcspn(p, ":");
        int w = snprintf(out, n, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", tool);
        if (w > 0 && (size_t)w < n && access(out, X_OK) == 0)
            return true;
        if (p[len] == '\0')
            return false;
        p += len + 1;
    }
}

#define SMI_TIMEOUT_DEFAULT_MS 10000
#define SMI_TIMEOUT_MAX_MS (3600 * 1000)

/* $VRAMFIT_GPU_PROBE_TIMEOUT (seconds, a fraction allowed, > 0 and at most an hour), else 10 s. */
static int smi_timeout_ms(void)
{
    const char *v = getenv("VRAMFIT_GPU_PROBE_TIMEOUT");
    char *end = NULL;
    double s = v && *v >= '0' && *v <= '9' ? strtod(v, &end) : -1;
    if (!end || *end || !(s > 0) || s * 1000 > SMI_TIMEOUT_MAX_MS)
        return SMI_TIMEOUT_DEFAULT_MS;
    return s * 1000 < 1 ? 1 : (int)(s * 1000);
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads the child's stdout into buf (at most SMI_OUTPUT_MAX - 1 bytes kept, the rest drained) until
 * end of file; false when the deadline passes first. */
static bool read_until(int fd, char *buf, long long deadline)
{
    size_t len = 0;
    char chunk[4096];
    bool done = false;
    while (!done) {
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        done = got <= 0;
        size_t room = SMI_OUTPUT_MAX - 1 - len, take = got > 0 && (size_t)got < room ? (size_t)got : room;
        if (got > 0) {
            memcpy(buf + len, chunk, take);
            len += take;
        }
    }
    buf[len] = '\0';
    return done;
}

/* Waits for pid until the deadline; kills its process group when it passes. The wait status. */
static int reap(pid_t pid, long long deadline, bool *killed)
{
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return st;
        if (*killed || now_ms() >= deadline) {
            if (!*killed)
                kill(-pid, SIGKILL), kill(pid, SIGKILL);
            *killed = true;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return st;
        }
        struct timespec nap = {0, 10 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

/* Runs exe with argv (no shell) in its own process group, stdout into buf (bounded, see
 * read_until), stdin and stderr on /dev/null, for at most smi_timeout_ms(). Returns the exit status
 * (128 + signal when killed), -1 when it could not be started or timed out (why filled). */
static int run_smi(const char *exe, char *const *argv, char *buf, char *why)
{
    int fd[2];
    buf[0] = '\0';
    if (pipe(fd) != 0) {
        snprintf(why, VF_GPU_MSG_MAX, "cannot create a pipe for %.200s: %.100s", exe, strerror(errno));
        return -1;
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0); /* a timeout kills the tool and whatever it started */
        signal(SIGPIPE, SIG_DFL);
        dup2(fd[1], 1);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
        }
        close(fd[0]);
        close(fd[1]);
        execv(exe, argv);
        _exit(127);
    }
    close(fd[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(fd[0]);
        snprintf(why, VF_GPU_MSG_MAX, "cannot start %.200s: %.100s", exe, strerror(errno));
        return -1;
    }
    int ms = smi_timeout_ms();
    long long deadline = now_ms() + ms;
    bool killed = !read_until(fd[0], buf, deadline);
    close(fd[0]);
    if (killed)
        kill(-pid, SIGKILL), kill(pid, SIGKILL);
    int st = reap(pid, deadline, &killed);
    if (killed) {
        snprintf(why, VF_GPU_MSG_MAX, "%.200s did not answer within %d.%03d s (stopped; "
                                      "VRAMFIT_GPU_PROBE_TIMEOUT sets the limit)",
                 exe, ms / 1000, ms % 1000);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Copies the first line of text (at most 120 characters, control characters as '?') into out. */
static void first_line(const char *text, char *out, size_t n)
{
    size_t o = 0, len = strcspn(text, "\r\n");
    for (size_t i = 0; i < len && i < 120 && o + 1 < n; i++)
        out[o++] = (unsigned char)text[i] < 0x20 ? '?' : text[i];
    out[o] = '\0';
}

/* Strips leading and trailing blanks of line[0..n) in place; returns the new start, *n updated. */
static char *trim(char *line, size_t *n)
{
    while (*n && (*line == ' ' || *line == '\t')) {
        line++;
        (*n)--;
    }
    while (*n && (line[*n - 1] == ' ' || line[*n - 1] == '\t' || line[*n - 1] == '\r'))
        (*n)--;
    line[*n] = '\0';
    return line;
}

/* ---- the GPUs a tool lists, and the ones the *_VISIBLE_DEVICES variables leave ----------------- */

#define GPU_LIST_MAX 256 /* an MI300X node in CPX mode lists 64 */

typedef struct gpu_dev {
    char name[VF_GPU_NAME_MAX];
    uint64_t bytes;
    uint64_t uid; /* rocm-smi's Unique ID; 0 when unknown (nvidia-smi's list) */
} gpu_dev;

typedef struct gpu_list {
    gpu_dev dev[GPU_LIST_MAX];
    size_t n;
} gpu_list;

static bool list_add(gpu_list *l, const char *tool, const char *name, uint64_t bytes, uint64_t uid, char *why)
{
    if (l->n == GPU_LIST_MAX) {
        snprintf(why, VF_GPU_MSG_MAX, "%s lists more than %d GPUs", tool, GPU_LIST_MAX);
        return false;
    }
    gpu_dev *d = &l->dev[l->n++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->bytes = bytes;
    d->uid = uid;
    return true;
}

/* One *_VISIBLE_DEVICES variable: its entries, up to the first that is neither an index nor (where
 * accepted) a UUID, as the runtimes read them. */
typedef struct visible_set {
    const char *var, *value; /* value NULL: unset, every GPU visible */
    size_t n;
    struct {
        bool is_uid;
        uint64_t v; /* an index, or the 64 bits of a ROCm UUID */
    } e[64];
} visible_set;

static int hex_digit(char c)
{
    int l = lower((unsigned char)c);
    return is_digit(c) ? c - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

/* Reads up to 16 hex digits at *p into *v; the count, or -1 for more than 16. */
static int read_hex(const char **p, uint64_t *v)
{
    int n = 0;
    for (*v = 0; hex_digit(**p) >= 0; (*p)++, n++) {
        if (n == 16)
            return -1;
        *v = *v << 4 | (uint64_t)hex_digit(**p);
    }
    return n;
}

/* A ROCm UUID entry at *p: "GPU-" and the 16 hex digits of the unique ID, as ROCr builds it
 * (ROCm/ROCR-Runtime, amd_gpu_agent.cpp, HSA_AMD_AGENT_INFO_UUID: "GPU-" << setw(16) << hex <<
 * UniqueID), which is what rocm-smi --showuniqueid prints as "0x...". */
static bool read_rocm_uuid(const char **p, visible_set *v, char *why)
{
    const char *start = *p;
    *p += 4;
    uint64_t u;
    int n = read_hex(p, &u);
    if (n <= 0 || (**p && **p != ',' && **p != ' ')) {
        snprintf(why, VF_GPU_MSG_MAX, "%s names a GPU by '%.*s', which is not ROCm's GPU-<16 hex digits> "
                                      "form; give --gpu NAME or --gpu-memory SIZE with --gpus N",
                 v->var, (int)strcspn(start, ","), start);
        return false;
    }
    v->e[v->n].is_uid = true;
    v->e[v->n++].v = u;
    return true;
}

/* Reads $var into v; false with why filled for a UUID entry that cannot be mapped (any UUID when
 * !uuids: nvidia-smi is not asked for UUIDs). */
static bool read_visible(const char *var, bool uuids, visible_set *v, char *why)
{
    const char *s = getenv(var);
    *v = (visible_set){.var = var, .value = s};
    for (const char *p = s; p && *p && v->n < sizeof v->e / sizeof v->e[0];) {
        while (*p == ' ')
            p++;
        bool gpu = strncmp(p, "GPU-", 4) == 0;
        if (!uuids && (gpu || strncmp(p, "MIG-", 4) == 0)) {
            snprintf(why, VF_GPU_MSG_MAX, "%s names GPUs by UUID ('%.60s'), which vramfit does not map; "
                                          "give --gpu NAME or --gpu-memory SIZE with --gpus N", var, s);
            return false;
        }
        uint64_t i;
        if (gpu && !read_rocm_uuid(&p, v, why))
            return false;
        if (!gpu && read_digits(&p, &i, 6) <= 0) /* the runtimes stop at the first entry that is not an index */
            break;
        if (!gpu) {
            v->e[v->n].is_uid = false;
            v->e[v->n++].v = i;
        }
        while (*p == ' ')
            p++;
        if (*p != ',')
            break;
        p++;
    }
    return true;
}

/* Keeps the GPUs of l that v lists (by their position in l or their UUID), in l's order. */
static void keep_visible(gpu_list *l, const visible_set *v)
{
    if (!v->value)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        bool seen = false;
        for (size_t k = 0; k < v->n && !seen; k++)
            seen = v->e[k].is_uid ? l->dev[i].uid && l->dev[i].uid == v->e[k].v : v->e[k].v == i;
        if (seen)
            l->dev[kept++] = l->dev[i];
    }
    l->n = kept;
}

/* The probe's summary of the visible GPUs: count, the smallest (its memory and name), the largest. */
static void summarize(const gpu_list *l, vf_gpu_probe *p)
{
    for (size_t i = 0; i < l->n; i++) {
        uint64_t bytes = l->dev[i].bytes;
        if (p->count && bytes != p->bytes)
            p->mixed = true;
        if (!p->count || bytes < p->bytes) {
            p->bytes = bytes;
            memcpy(p->name, l->dev[i].name, sizeof p->name);
        }
        if (bytes > p->largest)
            p->largest = bytes;
        p->count++;
    }
}

/* ---- nvidia-smi ---------------------------------------------------------------------------------- */

/* Parses one "NAME, MiB" line into name/bytes; false when it is not of that form. */
static bool parse_smi_line(char *line, size_t n, char *name, uint64_t *bytes)
{
    line = trim(line, &n);
    char *comma = strrchr(line, ',');
    if (!comma)
        return false;
    *comma = '\0';
    size_t nn = (size_t)(comma - line), mn = n - nn - 1;
    char *nm = trim(line, &nn), *mem = trim(comma + 1, &mn);
    const char *p = mem;
    uint64_t mib;
    if (!nn || read_digits(&p, &mib, 12) <= 0 || *p != '\0' || mib == 0)
        return false;
    snprintf(name, VF_GPU_NAME_MAX, "%s", nm);
    *bytes = mib * KIB * KIB;
    return true;
}

/* Every non-empty line of out into l; false with why filled on a malformed line. */
static bool parse_nvidia(char *out, gpu_list *l, char *why)
{
    for (char *line = out; *line;) {
        size_t n = strcspn(line, "\n");
        char *next = line + n + (line[n] == '\n');
        line[n] = '\0';
        size_t tn = n;
        char *t = trim(line, &tn);
        char name[VF_GPU_NAME_MAX], shown[128];
        uint64_t bytes;
        first_line(t, shown, sizeof shown);
        if (*t && !parse_smi_line(t, tn, name, &bytes)) {
            snprintf(why, VF_GPU_MSG_MAX, "unexpected nvidia-smi output line '%s' (expected 'NAME, MiB')",
                     shown);
            return false;
        }
        if (*t && !list_add(l, "nvidia-smi", name, bytes, 0, why))
            return false;
        line = next;
    }
    return true;
}

/* CUDA_VISIBLE_DEVICES, by index in nvidia-smi's order; UUIDs refused. */
static bool nvidia_visible(gpu_list *l, vf_gpu_probe *p, char *why)
{
    visible_set cuda;
    if (!read_visible("CUDA_VISIBLE_DEVICES", false, &cuda, why))
        return false;
    keep_visible(l, &cuda);
    p->filtered = cuda.value != NULL;
    snprintf(p->visible, sizeof p->visible, "CUDA_VISIBLE_DEVICES");
    p->order = "indices in nvidia-smi's PCI bus order, as CUDA_DEVICE_ORDER=PCI_BUS_ID";
    if (!l->n && p->listed)
        snprintf(why, VF_GPU_MSG_MAX, "CUDA_VISIBLE_DEVICES='%.60s' leaves none of the %u GPUs nvidia-smi "
                                      "lists visible", cuda.value, (unsigned)p->listed);
    return l->n > 0;
}

/* ---- rocm-smi ------------------------------------------------------------------------------------
 * `rocm-smi --showproductname --showmeminfo vram --showuniqueid --json` prints one JSON object
 * with a member "card<N>" per GPU, N = 0, 1, ... in rocm-smi's order, each an object of strings
 * (ROCm/rocm_smi_lib, python_smi_tools/rocm_smi.py: formatJson, showProduct, showMemInfo, showUId):
 *   {"card0": {"Card Series": "AMD Instinct MI300X", ..., "VRAM Total Memory (B)": "<bytes>",
 *              "VRAM Total Used Memory (B)": "<bytes>", "Unique ID": "0x<hex>"}}
 * "Card Series" was "Card series" before rocm_smi_lib 4b5ccb5 (2024-02); keys are matched ignoring
 * case. Other members (e.g. "system") are ignored. */

/* The string member `key` of obj (case-insensitive), or NULL. */
static const char *json_text(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "card<N>" with N the next index; false otherwise. */
static bool card_key(const char *key, size_t want)
{
    if (!key || strncmp(key, "card", 4) != 0)
        return false;
    const char *p = key + 4;
    uint64_t n;
    return read_digits(&p, &n, 6) > 0 && !*p && n == want;
}

/* rocm-smi's "Unique ID", "0x" and hex digits; 0 for "N/A" or anything else (no UUID match). */
static uint64_t unique_id(const char *s)
{
    if (!s || strncmp(s, "0x", 2) != 0)
        return 0;
    const char *p = s + 2;
    uint64_t u;
    return read_hex(&p, &u) > 0 && !*p ? u : 0;
}

/* One "cardN" object into l; false with why filled when a field is missing or malformed. */
static bool rocm_card(const cJSON *card, gpu_list *l, char *why)
{
    const char *name = json_text(card, "Card Series"), *vram = json_text(card, "VRAM Total Memory (B)");
    const char *p = vram;
    uint64_t bytes = 0;
    if (!cJSON_IsObject(card) || !name || !*name) {
        snprintf(why, VF_GPU_MSG_MAX, "unexpected rocm-smi output: %.40s has no \"Card Series\"", card->string);
        return false;
    }
    if (!vram || read_digits(&p, &bytes, 19) <= 0 || *p || bytes == 0) {
        snprintf(why, VF_GPU_MSG_MAX, "unexpected rocm-smi output: %.40s \"VRAM Total Memory (B)\" is '%.40s', "
                                      "not a byte count", card->string, vram ? vram : "missing");
        return false;
    }
    return list_add(l, "rocm-smi", name, bytes, unique_id(json_text(card, "Unique ID")), why);
}

/* rocm-smi's --json output into l; nothing at all (rocm-smi found no GPU: it prints "No JSON data to
 * report" on stderr) is an empty list. */
static bool parse_rocm(char *out, gpu_list *l, char *why)
{
    if (!out[strspn(out, " \t\r\n")])
        return true;
    cJSON *root = cJSON_ParseWithLength(out, strlen(out));
    char shown[128];
    first_line(out, shown, sizeof shown);
    bool ok = cJSON_IsObject(root);
    if (!ok)
        snprintf(why, VF_GPU_MSG_MAX, "unexpected rocm-smi output '%s' (expected its --json object)", shown);
    for (const cJSON *c = ok ? root->child : NULL; c && ok; c = c->next) {
        if (c->string && strncmp(c->string, "card", 4) != 0)
            continue;
        ok = card_key(c->string, l->n);
        if (!ok)
            snprintf(why, VF_GPU_MSG_MAX, "unexpected rocm-smi output: '%.40s' where card%u was expected",
                     c->string, (unsigned)l->n);
        ok = ok && rocm_card(c, l, why);
    }
    cJSON_Delete(root);
    return ok;
}

/* The variables of a and b that are set, "A then B", with their values when asked. */
static void describe_visible(const visible_set *a, const visible_set *b, bool values, char *out, size_t n)
{
    const visible_set *v[2] = {a, b};
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < 2; i++) {
        if (!v[i]->value || o >= n)
            continue;
        int w = values ? snprintf(out + o, n - o, "%s%s='%.40s'", o ? " then " : "", v[i]->var, v[i]->value)
                       : snprintf(out + o, n - o, "%s%s", o ? " then " : "", v[i]->var);
        o += w > 0 ? (size_t)w : 0;
    }
}

/* ROCR_VISIBLE_DEVICES first (indices into rocm-smi's list, or UUIDs), then HIP_VISIBLE_DEVICES, or
 * CUDA_VISIBLE_DEVICES when it is unset, among the GPUs ROCr leaves (HIP's own indices): the
 * ROCm documentation's GPU isolation rules (rocm.docs.amd.com, "GPU isolation techniques"; HIP
 * environment variables: "HIP_VISIBLE_DEVICES or CUDA_VISIBLE_DEVICES"), composed as PyTorch's
 * torch.cuda._parse_visible_devices does (HIP_VISIBLE_DEVICES preferred). */
static bool rocm_visible(gpu_list *l, vf_gpu_probe *p, char *why)
{
    visible_set rocr, hip;
    const char *hip_var = getenv("HIP_VISIBLE_DEVICES") ? "HIP_VISIBLE_DEVICES" : "CUDA_VISIBLE_DEVICES";
    if (!read_visible("ROCR_VISIBLE_DEVICES", true, &rocr, why) || !read_visible(hip_var, true, &hip, why))
        return false;
    keep_visible(l, &rocr);
    keep_visible(l, &hip);
    p->filtered = rocr.value || hip.value;
    char values[200];
    describe_visible(&rocr, &hip, false, p->visible, sizeof p->visible);
    describe_visible(&rocr, &hip, true, values, sizeof values);
    p->order = "indices in rocm-smi's order; HIP's among the GPUs ROCR_VISIBLE_DEVICES leaves";
    if (!l->n && p->listed)
        snprintf(why, VF_GPU_MSG_MAX, "%s leaves none of the %u GPUs rocm-smi lists visible", values,
                 (unsigned)p->listed);
    return l->n > 0;
}

/* ---- --gpu auto -------------------------------------------------------------------------------- */

typedef struct smi_tool {
    const char *name;
    char *const *argv;
    bool (*parse)(char *out, gpu_list *l, char *why);
    bool (*visible)(gpu_list *l, vf_gpu_probe *p, char *why);
} smi_tool;

static char *const nvidia_argv[] = {(char *)"nvidia-smi", (char *)"--query-gpu=name,memory.total",
                                    (char *)"--format=csv,noheader,nounits", NULL};
static char *const rocm_argv[] = {(char *)"rocm-smi", (char *)"--showproductname", (char *)"--showmeminfo",
                                  (char *)"vram", (char *)"--showuniqueid", (char *)"--json", NULL};
static const smi_tool nvidia_smi = {"nvidia-smi", nvidia_argv, parse_nvidia, nvidia_visible};
static const smi_tool rocm_smi = {"rocm-smi", rocm_argv, parse_rocm, rocm_visible};

/* Runs one tool into *out (zeroed first; out->listed counts what it listed, set once its output
 * parsed); a one-line reason in why otherwise. */
static vf_probe_status query_tool(const smi_tool *t, gpu_list *l, vf_gpu_probe *out, char *why)
{
    char exe[4096], reason[VF_GPU_MSG_MAX];
    memset(out, 0, sizeof *out);
    out->tool = t->name;
    l->n = 0;
    if (!find_on_path(t->name, exe, sizeof exe)) {
        snprintf(why, VF_GPU_MSG_MAX, "%s was not found on PATH", t->name);
        return VF_PROBE_ABSENT;
    }
    char *buf = malloc(SMI_OUTPUT_MAX);
    if (!buf) {
        snprintf(why, VF_GPU_MSG_MAX, "out of memory");
        return VF_PROBE_FAILED;
    }
    vf_probe_status st = VF_PROBE_FAILED;
    int rc = run_smi(exe, t->argv, buf, reason);
    char line[128];
    first_line(buf, line, sizeof line);
    if (rc < 0)
        snprintf(why, VF_GPU_MSG_MAX, "%.400s", reason);
    else if (rc != 0)
        snprintf(why, VF_GPU_MSG_MAX, "%.200s exited with status %d%s%.128s", exe, rc, *line ? ": " : "", line);
    else if (!t->parse(buf, l, reason))
        snprintf(why, VF_GPU_MSG_MAX, "%.400s", reason);
    else if (!l->n)
        snprintf(why, VF_GPU_MSG_MAX, "%s listed no GPU", t->name);
    else
        st = VF_PROBE_OK;
    free(buf);
    if (st != VF_PROBE_OK)
        return st;
    out->listed = (uint32_t)l->n;
    if (!t->visible(l, out, reason)) {
        snprintf(why, VF_GPU_MSG_MAX, "%.400s", reason);
        return VF_PROBE_FAILED;
    }
    summarize(l, out);
    return st;
}

vf_probe_status vf_gpu_query_auto(vf_gpu_probe *out, char *why)
{
    gpu_list *l = malloc(sizeof *l);
    char nv[VF_GPU_MSG_MAX], amd[VF_GPU_MSG_MAX];
    if (!l) {
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: out of memory");
        return VF_PROBE_FAILED;
    }
    vf_probe_status a = query_tool(&nvidia_smi, l, out, nv), b = VF_PROBE_ABSENT;
    if (a != VF_PROBE_OK && !out->listed) /* no NVIDIA GPU listed: ask rocm-smi */
        b = query_tool(&rocm_smi, l, out, amd);
    free(l);
    if (a == VF_PROBE_OK || b == VF_PROBE_OK)
        return VF_PROBE_OK;
    if (a == VF_PROBE_ABSENT && b == VF_PROBE_ABSENT)
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: nvidia-smi was not found on PATH, nor rocm-smi; name the GPU "
                                      "with --gpu NAME or give --gpu-memory SIZE");
    else if (b == VF_PROBE_ABSENT)
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: %.480s", nv);
    else if (a == VF_PROBE_ABSENT)
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: %.480s", amd);
    else
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: %.240s; %.240s", nv, amd);
    return a == VF_PROBE_ABSENT && b == VF_PROBE_ABSENT ? VF_PROBE_ABSENT : VF_PROBE_FAILED;
}
