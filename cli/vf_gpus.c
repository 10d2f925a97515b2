/* vf_gpus.c - SIZE parsing, the built-in accelerator table and the nvidia-smi query (see vf_gpus.h). */
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

/* ---- nvidia-smi ---------------------------------------------------------------------------------- */

#define SMI_OUTPUT_MAX (64 * 1024)

/* First executable "nvidia-smi" in $PATH into out[n]; false when none. An empty PATH entry means
 * the current directory, as for execvp. */
static bool find_on_path(char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    for (const char *p = path;;) {
        size_t len = strcspn(p, ":");
        int w = snprintf(out, n, "%.*s/nvidia-smi", (int)(len ? len : 1), len ? p : ".");
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

/* Runs exe with its query arguments in its own process group, stdout into buf (bounded, see
 * read_until), stderr discarded, for at most smi_timeout_ms(). Returns the exit status (128 +
 * signal when killed), -1 when it could not be started or timed out (why filled). */
static int run_smi(const char *exe, char *buf, char *why)
{
    char *const argv[] = {(char *)"nvidia-smi", (char *)"--query-gpu=name,memory.total",
                          (char *)"--format=csv,noheader,nounits", NULL};
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

/* The GPU indices CUDA_VISIBLE_DEVICES leaves visible. */
typedef struct visible_set {
    bool all;          /* unset: every GPU */
    size_t n;
    uint32_t idx[64];
} visible_set;

/* Reads CUDA_VISIBLE_DEVICES; false with why filled for UUID entries, which need nvidia-smi's uuid. */
static bool read_visible(visible_set *v, char *why)
{
    const char *s = getenv("CUDA_VISIBLE_DEVICES");
    *v = (visible_set){.all = s == NULL};
    for (const char *p = s; p && *p && v->n < sizeof v->idx / sizeof v->idx[0];) {
        while (*p == ' ')
            p++;
        if (strncmp(p, "GPU-", 4) == 0 || strncmp(p, "MIG-", 4) == 0) {
            snprintf(why, VF_GPU_MSG_MAX, "CUDA_VISIBLE_DEVICES names GPUs by UUID ('%.60s'), "
                                          "which vramfit does not map; give --gpu NAME or --gpu-memory SIZE "
                                          "with --gpus N", s);
            return false;
        }
        uint64_t i;
        if (read_digits(&p, &i, 6) <= 0) /* CUDA stops at the first entry that is not an index */
            break;
        v->idx[v->n++] = (uint32_t)i;
        while (*p == ' ')
            p++;
        if (*p != ',')
            break;
        p++;
    }
    return true;
}

static bool is_visible(const visible_set *v, uint32_t index)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->idx[i] == index)
            return true;
    return v->all;
}

/* Parses every non-empty line of out into *probe, keeping the GPUs CUDA_VISIBLE_DEVICES leaves
 * visible; false with why filled on a malformed line. */
static bool parse_smi(char *out, vf_gpu_probe *probe, char *why)
{
    memset(probe, 0, sizeof *probe);
    visible_set vis;
    if (!read_visible(&vis, why))
        return false;
    probe->filtered = !vis.all;
    for (char *line = out; *line;) {
        size_t n = strcspn(line, "\n");
        char *next = line + n + (line[n] == '\n');
        line[n] = '\0';
        size_t tn = n;
        char *t = trim(line, &tn);
        if (*t == '\0') {
            line = next;
            continue;
        }
        char name[VF_GPU_NAME_MAX], shown[128];
        uint64_t bytes;
        first_line(t, shown, sizeof shown);
        if (!parse_smi_line(t, tn, name, &bytes)) {
            snprintf(why, VF_GPU_MSG_MAX, "unexpected nvidia-smi output line '%s' (expected 'NAME, MiB')",
                     shown);
            return false;
        }
        if (!is_visible(&vis, probe->listed++)) {
            line = next;
            continue;
        }
        if (probe->count && bytes != probe->bytes)
            probe->mixed = true;
        if (!probe->count || bytes < probe->bytes) {
            probe->bytes = bytes;
            memcpy(probe->name, name, sizeof probe->name);
        }
        if (bytes > probe->largest)
            probe->largest = bytes;
        probe->count++;
        line = next;
    }
    if (!probe->count && probe->listed) {
        snprintf(why, VF_GPU_MSG_MAX, "CUDA_VISIBLE_DEVICES='%.60s' leaves none of the %u GPUs nvidia-smi "
                                      "lists visible", getenv("CUDA_VISIBLE_DEVICES"), (unsigned)probe->listed);
        return false;
    }
    if (!probe->count) {
        snprintf(why, VF_GPU_MSG_MAX, "nvidia-smi listed no GPU");
        return false;
    }
    return true;
}

vf_probe_status vf_gpu_query_nvidia_smi(vf_gpu_probe *out, char *why)
{
    char exe[4096];
    if (!find_on_path(exe, sizeof exe)) {
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: nvidia-smi was not found on PATH; name the GPU "
                                      "with --gpu NAME or give --gpu-memory SIZE");
        return VF_PROBE_ABSENT;
    }
    char *buf = malloc(SMI_OUTPUT_MAX);
    if (!buf) {
        snprintf(why, VF_GPU_MSG_MAX, "out of memory");
        return VF_PROBE_FAILED;
    }
    char reason[VF_GPU_MSG_MAX];
    vf_probe_status st = VF_PROBE_OK;
    int rc = run_smi(exe, buf, reason);
    if (rc != 0) {
        char line[128];
        first_line(buf, line, sizeof line);
        if (rc < 0)
            snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: %.400s", reason);
        else
            snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: %.200s exited with status %d%s%.128s", exe, rc,
                     *line ? ": " : "", line);
        st = VF_PROBE_FAILED;
    } else if (!parse_smi(buf, out, reason)) {
        snprintf(why, VF_GPU_MSG_MAX, "--gpu auto: %.400s", reason);
        st = VF_PROBE_FAILED;
    }
    free(buf);
    return st;
}
