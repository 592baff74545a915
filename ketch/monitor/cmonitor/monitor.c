/* ketch-monitor: one running container's monitor, after "started".
 *
 * The Python monitor (ketch/monitor/monitor.py) creates and starts the container, then
 * exec()s this program, keeping its pid: the container's init stays our child and we
 * stay a child subreaper. Everything we need crosses the exec as inherited fds and argv:
 *
 *   ketch-monitor --id ID --pid N --state-dir D --log-fd FD|--log-path P --listener FD
 *                 [--stdout FD] [--stderr FD] [--pty FD] [--stdin FD]
 *                 [--client FD:SUBSCRIBED[:LEFTOVER_FD]]... [--partial-stdout FD]
 *                 [--partial-stderr FD] [--paused] [--cgroups-path C]
 *                 [--runtime-kind ketch|cli] [--delete-via SOCKET LINE] [--trace PATH]
 *                 [--log-driver json-file|local|none] [--log-max-size N --log-max-file N]
 *                 [--log-compress] -- RUNTIME_PREFIX...
 *
 * With a terminal, --pty is the master (resize, ^D, stdin) and --stdout the same fd
 * while its output has not ended. RUNTIME_PREFIX is the runtime's command line up to
 * the verb ("runc --root R"); we append "pause ID", "resume ID", "delete --force ID".
 * --delete-via: the fork server's socket and the request line that has it delete the
 * container in a forked child (ketch's runtime, warm: ~1 ms instead of a fresh
 * interpreter's ~30 ms); if it cannot (ketchd is down), the runtime's CLI does it.
 * LEFTOVER_FD and the partial fds are files (memfds) holding what the Python side had
 * read but not yet handled: the start of a client's next frame, a log line without its
 * newline.
 *
 * From here on we do what monitor.py does after "started", byte for byte on the wire and
 * in the log (it is the specification):
 *   - container output -> Docker's json-file log (logfile.py) and Docker frames to every
 *     subscribed client; stdin frames and control ops from clients (protocol.py);
 *   - new clients on monitor.sock (ketchd after a restart);
 *   - the init exits -> drain output (2 s at most) -> OOM? -> runtime delete ->
 *     unlink monitor.sock -> exit.json -> "exited" -> close, exit 0.
 *
 * The log is rotated as logfile.py describes (--log-path names it; --log-fd is the live file
 * the Python side opened). A rotated file is gzipped by a forked child of ours (zlib, no
 * program run), at a lower priority; the next rotation waits for it, as moby's does.
 * With --log-driver none nothing is written.
 *
 * Test mode: "ketch-monitor --replay-log PATH [LOG OPTIONS]" reads a trace (the format --trace writes:
 * "W <stream> <ns> <len>\n<bytes>" and "F <stream> <ns>\n" records) from stdin and writes
 * the json-file log, so tests can compare it with logfile.JsonFileWriter's.
 *
 * Only libc, and zlib for the gzip of rotated logs. Buffers are bounded; every syscall is
 * checked; EINTR is retried.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK 65536          /* monitor.py reads 64 KiB at a time */
#define MAX_PARTIAL (16 * 1024)   /* logfile.MAX_PARTIAL */
#define MAX_CLIENTS 64
#define MAX_CONTROL 65536         /* a larger control frame is skipped, unread */
#define MAX_ARGS 256
#define ERR_CAP 4096              /* what we keep of a runtime's stderr */
#define DRAIN_MS 2000             /* monitor.DRAIN_TIMEOUT */

enum { ST_STDIN = 0, ST_STDOUT = 1, ST_STDERR = 2, ST_CONTROL = 0x10 };

/* ---------------------------------------------------------------------------------- */
/* small helpers                                                                        */

static void warnf(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t r;
    do
        r = write(2, buf, (size_t)n);
    while (r < 0 && errno == EINTR);
}

static void die(const char *what) {
    warnf("ketch-monitor: %s: %s", what, strerror(errno));
    exit(1);
}

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) { /* a non-blocking fd: block like monitor.py does */
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                    return -1;
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int64_t now_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* timefmt.format_ns (9 digits) or format_ns_trimmed (Go's RFC3339Nano) */
static void format_time(int64_t ns, int trimmed, char *out, size_t cap) {
    time_t secs = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    if (frac < 0) {
        frac += 1000000000L;
        secs -= 1;
    }
    struct tm tm;
    char head[64] = "1970-01-01T00:00:00";
    if (gmtime_r(&secs, &tm))
        strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    char digits[16];
    snprintf(digits, sizeof digits, "%09ld", frac);
    if (trimmed) {
        int end = 9;
        while (end > 0 && digits[end - 1] == '0')
            end--;
        digits[end] = 0;
        if (end == 0) {
            snprintf(out, cap, "%sZ", head);
            return;
        }
    }
    snprintf(out, cap, "%s.%sZ", head, digits);
}

static int parse_int(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_fd(const char *s) {
    long long v;
    if (parse_int(s, &v) < 0 || v < 0 || v > INT_MAX) {
        warnf("ketch-monitor: bad fd %s", s);
        exit(2);
    }
    return (int)v;
}

static void set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
        die("fcntl(F_SETFD)");
}

/* ---------------------------------------------------------------------------------- */
/* output buffer: appends, flushed to an fd when full (the log) or bounded (events)       */

struct out {
    char *buf;
    size_t len, cap;
    int fd;       /* >= 0: flush here when full; -1: fixed buffer */
    int overflow; /* a fixed buffer ran out of room */
    uint64_t total; /* bytes put, ever */
};

static void out_flush(struct out *o) {
    if (o->fd >= 0 && o->len > 0) {
        if (write_all(o->fd, o->buf, o->len) < 0)
            warnf("ketch-monitor: writing the log: %s", strerror(errno));
        o->len = 0;
    }
}

static void out_put(struct out *o, const char *s, size_t n) {
    while (n > 0) {
        if (o->len == o->cap) {
            if (o->fd < 0) {
                o->overflow = 1;
                return;
            }
            out_flush(o);
        }
        size_t room = o->cap - o->len, take = n < room ? n : room;
        memcpy(o->buf + o->len, s, take);
        o->len += take;
        o->total += take;
        s += take;
        n -= take;
    }
}

static void out_str(struct out *o, const char *s) { out_put(o, s, strlen(s)); }

static void out_u16(struct out *o, unsigned v) {
    static const char hex[] = "0123456789abcdef"; /* json.dumps writes lowercase */
    char b[6] = {'\\', 'u', hex[(v >> 12) & 15], hex[(v >> 8) & 15], hex[(v >> 4) & 15], hex[v & 15]};
    out_put(o, b, 6);
}

static void out_codepoint(struct out *o, unsigned cp) {
    char c;
    if (cp >= 0x20 && cp < 0x7f) {
        if (cp == '"')
            out_put(o, "\\\"", 2);
        else if (cp == '\\')
            out_put(o, "\\\\", 2);
        else {
            c = (char)cp;
            out_put(o, &c, 1);
        }
        return;
    }
    switch (cp) {
    case '\n': out_put(o, "\\n", 2); return;
    case '\r': out_put(o, "\\r", 2); return;
    case '\t': out_put(o, "\\t", 2); return;
    case '\b': out_put(o, "\\b", 2); return;
    case '\f': out_put(o, "\\f", 2); return;
    }
    if (cp >= 0x10000) { /* a surrogate pair, as json.dumps(ensure_ascii=True) writes */
        cp -= 0x10000;
        out_u16(o, 0xd800 | (cp >> 10));
        out_u16(o, 0xdc00 | (cp & 0x3ff));
        return;
    }
    out_u16(o, cp);
}

/* The body of a JSON string for bytes: Python's data.decode("utf-8", "replace") (one
 * U+FFFD per maximal ill-formed subpart) then json.dumps' ensure_ascii escaping. */
static void out_json_bytes(struct out *o, const unsigned char *d, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = d[i];
        if (c < 0x80) {
            out_codepoint(o, c);
            i++;
            continue;
        }
        unsigned need, lo = 0x80, hi = 0xbf, cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            out_u16(o, 0xfffd);
            i++;
            continue;
        }
        size_t j = 1; /* bytes of the sequence that are valid so far */
        int ok = 1;
        for (unsigned k = 1; k <= need; k++) {
            unsigned b = i + k < n ? d[i + k] : 0x100;
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
            if (b < l || b > h) {
                ok = 0;
                break;
            }
            cp = (cp << 6) | (b & 0x3f);
            j++;
        }
        if (!ok) {
            out_u16(o, 0xfffd);
            i += j;
            continue;
        }
        out_codepoint(o, cp);
        i += need + 1;
    }
}

/* ---------------------------------------------------------------------------------- */
/* the json-file log (logfile.JsonFileWriter)                                            */

struct stream {
    const char *name; /* "stdout" | "stderr" */
    int fd;           /* the pipe's read end or the pty master; -1 once at EOF */
    unsigned char partial[MAX_PARTIAL];
    size_t plen;
    char series[48]; /* --log-driver local: the id of the long line being split */
    int ordinal;     /* its last piece's ordinal; 0: none */
};

static char log_obuf[65536];
static struct out logout = {log_obuf, 0, sizeof log_obuf, -1, 0, 0};
static const char *log_path;
static int log_none;                /* --log-driver none */
static int log_local;               /* --log-driver local (localfmt.py) */
static long long log_max_size = -1; /* -1: never rotated */
static long long log_max_file = 1;
static int log_compress;
static long long log_size;          /* bytes in the live file */
static pid_t compress_pid;          /* the child gzipping .1, 0 if none */
static int trace_fd = -1;
static unsigned char work[MAX_PARTIAL + READ_CHUNK];

static void trace(const char *kind, struct stream *s, int64_t now, const void *data, size_t n) {
    if (trace_fd < 0)
        return;
    char head[96];
    int h = kind[0] == 'W' ? snprintf(head, sizeof head, "W %s %lld %zu\n", s->name, (long long)now, n)
                           : snprintf(head, sizeof head, "F %s %lld\n", s->name, (long long)now);
    if (write_all(trace_fd, head, (size_t)h) < 0 || (n && write_all(trace_fd, data, n) < 0))
        warnf("ketch-monitor: writing the trace: %s", strerror(errno));
}

static void rotated_name(char *out, size_t cap, long long n, int gz) {
    snprintf(out, cap, "%s.%lld%s", log_path, n, gz ? ".gz" : "");
}

/* path -> path.gz through path.gz.tmp, then path is removed; 0 on success */
static int compress_file(const char *path) {
    char tmp[PATH_MAX + 16], dst[PATH_MAX + 16];
    static char buf[65536];
    snprintf(tmp, sizeof tmp, "%s.gz.tmp", path);
    snprintf(dst, sizeof dst, "%s.gz", path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    gzFile gz = out >= 0 ? gzdopen(out, "wb") : NULL;
    if (!gz) {
        if (out >= 0)
            close(out);
        close(in);
        return -1;
    }
    int bad = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            bad = 1;
        if (n <= 0)
            break;
        if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
            bad = 1;
            break;
        }
    }
    close(in);
    if (gzclose(gz) != Z_OK || bad || rename(tmp, dst) < 0) {
        unlink(tmp);
        return -1;
    }
    return unlink(path);
}

static void wait_compressor(void) {
    while (compress_pid > 0) {
        int status;
        if (waitpid(compress_pid, &status, 0) < 0 && errno == EINTR)
            continue;
        compress_pid = 0; /* reaped here, or already by reap() */
    }
}

static void start_compressor(void) {
    char first[PATH_MAX];
    rotated_name(first, sizeof first, 1, 0);
    pid_t pid = fork();
    if (pid < 0) {
        warnf("ketch-monitor: cannot fork to compress %s: %s", first, strerror(errno));
        return;
    }
    if (pid == 0) { /* holds none of our connections, so none outlives us in it */
        syscall(SYS_close_range, 3U, ~0U, 0U);
        if (nice(10) < 0) { /* only a courtesy to the rest of the host */
        }
        _exit(compress_file(first) == 0 ? 0 : 1);
    }
    compress_pid = pid;
}

/* logfile.JsonFileWriter._rotate: the files shift, the live one starts empty */
static void log_rotate(void) {
    char from[PATH_MAX], to[PATH_MAX];
    out_flush(&logout);
    wait_compressor();
    close(logout.fd);
    if (log_max_file >= 2) {
        rotated_name(to, sizeof to, log_max_file - 1, log_compress);
        if (unlink(to) < 0 && errno != ENOENT)
            warnf("ketch-monitor: removing %s: %s", to, strerror(errno));
        for (long long i = log_max_file - 1; i > 1; i--) {
            rotated_name(from, sizeof from, i - 1, log_compress);
            rotated_name(to, sizeof to, i, log_compress);
            if (rename(from, to) < 0 && errno != ENOENT)
                warnf("ketch-monitor: renaming %s: %s", from, strerror(errno));
        }
        rotated_name(to, sizeof to, 1, 0);
        if (rename(log_path, to) < 0 && errno != ENOENT)
            warnf("ketch-monitor: renaming %s: %s", log_path, strerror(errno));
    }
    logout.fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
    if (logout.fd < 0) /* the output still reaches attached clients; the log waits */
        warnf("ketch-monitor: %s: %s", log_path, strerror(errno));
    log_size = 0;
    if (log_compress && log_max_file > 1)
        start_compressor();
}

enum { K_LINE, K_CHUNK, K_REST }; /* logfile.LINE, CHUNK, REST */

static size_t put_varint(unsigned char *p, uint64_t v) {
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (unsigned char)v;
    return i;
}

static size_t put_field(unsigned char *p, unsigned char tag, const void *d, size_t n) {
    if (n == 0) /* proto3 leaves empty fields out */
        return 0;
    size_t i = 0;
    p[i++] = tag;
    i += put_varint(p + i, n);
    memcpy(p + i, d, n);
    return i + n;
}

/* logfile.LocalWriter._entry: a framed LogEntry (localfmt.encode) */
static void local_entry(struct stream *s, const unsigned char *d, size_t n, int64_t now, int kind) {
    static unsigned char msg[MAX_PARTIAL + 256];
    unsigned char meta[96];
    size_t i = put_field(msg, 0x0a, s->name, strlen(s->name));
    if (now) {
        msg[i++] = 0x10;
        i += put_varint(msg + i, (uint64_t)now);
    }
    i += put_field(msg + i, 0x1a, d, kind == K_LINE ? n - 1 : n);
    if (kind != K_LINE || s->ordinal > 0) {
        if (s->ordinal == 0)
            snprintf(s->series, sizeof s->series, "%s-%lld", s->name, (long long)now);
        int ordinal = s->ordinal + 1;
        size_t m = 0;
        if (kind == K_LINE) {
            meta[m++] = 0x08;
            meta[m++] = 1;
        }
        m += put_field(meta + m, 0x12, s->series, strlen(s->series));
        meta[m++] = 0x18;
        m += put_varint(meta + m, (uint64_t)ordinal);
        msg[i++] = 0x20;
        msg[i++] = 1;
        msg[i++] = 0x2a;
        i += put_varint(msg + i, m);
        memcpy(msg + i, meta, m);
        i += m;
        s->ordinal = kind == K_CHUNK ? ordinal : 0;
    }
    unsigned char len[4] = {(unsigned char)(i >> 24), (unsigned char)(i >> 16), (unsigned char)(i >> 8),
                            (unsigned char)i};
    out_put(&logout, (const char *)len, 4);
    out_put(&logout, (const char *)msg, i);
    out_put(&logout, (const char *)len, 4);
}

static void log_entry(struct stream *s, const unsigned char *d, size_t n, const char *when, int64_t now,
                      int kind) {
    if (log_max_size > 0 && log_size >= log_max_size)
        log_rotate();
    if (logout.fd < 0) { /* the live file could not be made at the last rotation: again */
        logout.fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (logout.fd < 0)
            return;
    }
    uint64_t before = logout.total;
    if (log_local) {
        local_entry(s, d, n, now, kind);
        log_size += (long long)(logout.total - before);
        return;
    }
    out_str(&logout, "{\"log\":\"");
    out_json_bytes(&logout, d, n);
    out_str(&logout, "\",\"stream\":\"");
    out_str(&logout, s->name);
    out_str(&logout, "\",\"time\":\"");
    out_str(&logout, when);
    out_str(&logout, "\"}\n");
    log_size += (long long)(logout.total - before);
}

static void log_write(struct stream *s, const unsigned char *data, size_t n, int64_t now) {
    trace("W", s, now, data, n);
    if (log_none)
        return;
    if (n > READ_CHUNK) /* never: callers read at most READ_CHUNK */
        n = READ_CHUNK;
    char when[64];
    format_time(now, 1, when, sizeof when);
    memcpy(work, s->partial, s->plen);
    memcpy(work + s->plen, data, n);
    size_t total = s->plen + n, start = 0;
    for (size_t i = 0; i < total; i++) {
        if (work[i] == '\n') {
            /* longer than moby's copier buffer: 16 KiB partial pieces first, whatever the reads */
            while (i - start >= MAX_PARTIAL) {
                log_entry(s, work + start, MAX_PARTIAL, when, now, K_CHUNK);
                start += MAX_PARTIAL;
            }
            log_entry(s, work + start, i + 1 - start, when, now, K_LINE);
            start = i + 1;
        }
    }
    while (total - start >= MAX_PARTIAL) {
        log_entry(s, work + start, MAX_PARTIAL, when, now, K_CHUNK);
        start += MAX_PARTIAL;
    }
    s->plen = total - start;
    memmove(s->partial, work + start, s->plen);
    out_flush(&logout);
}

static void log_flush(struct stream *s, int64_t now) {
    trace("F", s, now, NULL, 0);
    if (s->plen == 0 || log_none)
        return;
    char when[64];
    format_time(now, 1, when, sizeof when);
    log_entry(s, s->partial, s->plen, when, now, K_REST);
    s->plen = 0;
    out_flush(&logout);
}

static int open_log(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        die(path);
    return fd;
}

/* --log-driver, --log-max-size, --log-max-file, --log-compress; 1 if ``a`` was one */
static int log_option(const char *a, int argc, char **argv, int *i) {
    long long v;
    if (strcmp(a, "--log-compress") == 0) {
        log_compress = 1;
        return 1;
    }
    if (strcmp(a, "--log-driver") != 0 && strcmp(a, "--log-max-size") != 0 &&
        strcmp(a, "--log-max-file") != 0)
        return 0;
    if (*i + 1 >= argc)
        return -1;
    const char *val = argv[++*i];
    if (strcmp(a, "--log-driver") == 0) {
        log_none = strcmp(val, "none") == 0;
        log_local = strcmp(val, "local") == 0;
    }
    else if (parse_int(val, &v) < 0 || v < 1)
        return -1;
    else if (strcmp(a, "--log-max-size") == 0)
        log_max_size = v;
    else
        log_max_file = v;
    return 1;
}

static void log_start_size(void) {
    struct stat st;
    if (logout.fd >= 0 && fstat(logout.fd, &st) == 0)
        log_size = st.st_size;
}

/* --replay-log: the trace on stdin -> the log */
static int replay_log(const char *path) {
    static struct stream streams[2]; /* in .bss: only the pages written cost memory */
    static unsigned char chunk[READ_CHUNK];
    streams[0].name = "stdout";
    streams[1].name = "stderr";
    log_path = path;
    if (!log_none)
        logout.fd = open_log(path);
    log_start_size();
    FILE *in = stdin;
    char line[128];
    while (fgets(line, sizeof line, in)) {
        char kind, name[16];
        long long ns;
        size_t n = 0;
        int fields = sscanf(line, "%c %15s %lld %zu", &kind, name, &ns, &n);
        if (fields < 3)
            return 2;
        struct stream *s = strcmp(name, "stdout") == 0 ? &streams[0] : &streams[1];
        if (kind == 'W') {
            if (fields != 4 || n > READ_CHUNK || fread(chunk, 1, n, in) != n)
                return 2;
            log_write(s, chunk, n, ns);
        } else {
            log_flush(s, ns);
        }
    }
    wait_compressor();
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* the monitor's state                                                                  */

struct client {
    int fd; /* -1: dropped */
    int subscribed;
    unsigned char hdr[8];
    size_t hlen;          /* header bytes so far; 8 while reading a payload */
    int mode;             /* 'i' stdin, 'c' control, 's' skip */
    uint32_t remain;      /* payload bytes still to come */
    unsigned char *ctl;   /* control payload being read (malloc'd, <= MAX_CONTROL) */
    size_t clen;
};

static struct client clients[MAX_CLIENTS];
static int nclients;
static struct stream outs[2]; /* names and fds set in main (an initializer would put the buffers in .data) */
static int pty_fd = -1, stdin_fd = -1, listen_fd = -1, sig_fd = -1, devnull = -1;
static pid_t init_pid;
static int exit_code = -1; /* -1: the init has not exited */
static int paused;
static const char *cid, *state_dir, *cgroups_path = "", *runtime_kind = "ketch";
static const char *delete_socket, *delete_line;
static char *runtime_argv[MAX_ARGS];
static int runtime_argc;

static void drop(struct client *c) {
    if (c->fd >= 0) {
        while (close(c->fd) < 0 && errno == EINTR)
            ;
        c->fd = -1;
    }
    free(c->ctl);
    c->ctl = NULL;
}

static void compact_clients(void) {
    int j = 0;
    for (int i = 0; i < nclients; i++)
        if (clients[i].fd >= 0)
            clients[j++] = clients[i];
    nclients = j;
}

static void send_to(struct client *c, const void *data, size_t len) {
    const char *p = data;
    while (c->fd >= 0 && len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
                if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                    continue;
            }
            drop(c);
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

static void broadcast(const void *data, size_t len) {
    for (int i = 0; i < nclients; i++)
        if (clients[i].fd >= 0 && clients[i].subscribed)
            send_to(&clients[i], data, len);
}

static void put_header(unsigned char *h, int stream, uint32_t len) {
    h[0] = (unsigned char)stream;
    h[1] = h[2] = h[3] = 0;
    h[4] = (unsigned char)(len >> 24);
    h[5] = (unsigned char)(len >> 16);
    h[6] = (unsigned char)(len >> 8);
    h[7] = (unsigned char)len;
}

/* An event as protocol.Event.encode() writes it: a control frame of compact JSON. */
static char ev_buf[8 + 32768];

struct event {
    const char *event;
    long long pid;
    const char *message; size_t message_len;
    long long exit_code;
    const char *finished_at;
    int oom_killed;
    const char *state;
    int paused;
    long long call;
};

static size_t encode_event(const struct event *e) {
    struct out o = {ev_buf + 8, 0, sizeof ev_buf - 8, -1, 0, 0};
    char num[32];
    int exited = strcmp(e->event, "exited") == 0;
    out_str(&o, "{\"event\":\"");
    out_json_bytes(&o, (const unsigned char *)e->event, strlen(e->event));
    out_str(&o, "\"");
    if (e->pid) {
        snprintf(num, sizeof num, ",\"pid\":%lld", e->pid);
        out_str(&o, num);
    }
    if (e->message && e->message_len) {
        out_str(&o, ",\"message\":\"");
        out_json_bytes(&o, (const unsigned char *)e->message, e->message_len);
        out_str(&o, "\"");
    }
    if (e->exit_code || exited) {
        snprintf(num, sizeof num, ",\"exit_code\":%lld", e->exit_code);
        out_str(&o, num);
    }
    if ((e->finished_at && *e->finished_at) || exited) {
        out_str(&o, ",\"finished_at\":\"");
        out_str(&o, e->finished_at ? e->finished_at : "");
        out_str(&o, "\"");
    }
    if (e->oom_killed || exited)
        out_str(&o, e->oom_killed ? ",\"oom_killed\":true" : ",\"oom_killed\":false");
    if (e->state && *e->state) {
        out_str(&o, ",\"state\":\"");
        out_str(&o, e->state);
        out_str(&o, "\"");
    }
    if (e->paused)
        out_str(&o, ",\"paused\":true");
    if (e->call) {
        snprintf(num, sizeof num, ",\"call\":%lld", e->call);
        out_str(&o, num);
    }
    out_str(&o, "}");
    if (o.overflow) /* only a huge message can do this: never send a torn event */
        return 0;
    put_header((unsigned char *)ev_buf, ST_CONTROL, (uint32_t)o.len);
    return o.len + 8;
}

static void send_event(struct client *c, const struct event *e) {
    size_t n = encode_event(e);
    if (n)
        send_to(c, ev_buf, n);
}

static void broadcast_event(const struct event *e) {
    size_t n = encode_event(e);
    if (n)
        broadcast(ev_buf, n);
}

/* ---------------------------------------------------------------------------------- */
/* stdin                                                                                */

static void close_stdin(void) {
    if (stdin_fd >= 0 && stdin_fd != pty_fd) {
        while (close(stdin_fd) < 0 && errno == EINTR)
            ;
        stdin_fd = -1;
    } else if (pty_fd >= 0) {
        if (write_all(pty_fd, "\x04", 1) < 0) /* a terminal's EOF is ^D */
            warnf("ketch-monitor: writing ^D: %s", strerror(errno));
    }
}

static void write_stdin(const unsigned char *data, size_t n) {
    if (stdin_fd < 0 || n == 0)
        return;
    if (write_all(stdin_fd, data, n) < 0)
        close_stdin();
}

/* ---------------------------------------------------------------------------------- */
/* the runtime's command line: pause, resume, delete                                     */

/* Runs RUNTIME_PREFIX verb [flag] ID; 0 if it exited 0. Its stderr (bounded) -> err. */
static int run_runtime(const char *verb, const char *flag, char *err, size_t errcap, size_t *errlen) {
    char *argv[MAX_ARGS + 4];
    int argc = 0;
    for (int i = 0; i < runtime_argc; i++)
        argv[argc++] = runtime_argv[i];
    argv[argc++] = (char *)verb;
    if (flag)
        argv[argc++] = (char *)flag;
    argv[argc++] = (char *)cid;
    argv[argc] = NULL;
    *errlen = 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errcap, "pipe: %s", strerror(errno));
        *errlen = strlen(err);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "fork: %s", strerror(errno));
        *errlen = strlen(err);
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(p[1], 2) < 0)
            _exit(127);
        execvp(argv[0], argv); /* PATH, as subprocess does for a runtime named "runc" */
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    char scratch[1024];
    for (;;) {
        ssize_t n = read(p[0], scratch, sizeof scratch);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t room = errcap - 1 - *errlen, take = (size_t)n < room ? (size_t)n : room;
        memcpy(err + *errlen, scratch, take);
        *errlen += take;
    }
    close(p[0]);
    err[*errlen] = 0;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errcap, "waitpid: %s", strerror(errno));
            *errlen = strlen(err);
            return -1;
        }
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/* The error message as the Python monitor reports it: ketch's runtime raised the error
 * itself (its CLI prints "ketch-runtime: <message>"); runc's goes through CliRuntime. */
static size_t runtime_message(const char *verb, char *err, size_t len, char *msg, size_t cap) {
    size_t a = 0, b = len;
    while (a < b && is_space((unsigned char)err[a]))
        a++;
    while (b > a && is_space((unsigned char)err[b - 1]))
        b--;
    if (strcmp(runtime_kind, "ketch") == 0) {
        static const char prefix[] = "ketch-runtime: ";
        if (b - a >= sizeof prefix - 1 && memcmp(err + a, prefix, sizeof prefix - 1) == 0)
            a += sizeof prefix - 1;
        size_t n = b - a < cap ? b - a : cap;
        memcpy(msg, err + a, n);
        return n;
    }
    int h = snprintf(msg, cap, "OCI runtime %s failed: ", verb);
    if (h < 0 || (size_t)h >= cap)
        return 0;
    size_t n = b - a < cap - (size_t)h ? b - a : cap - (size_t)h;
    memcpy(msg + h, err + a, n);
    return (size_t)h + n;
}

/* ---------------------------------------------------------------------------------- */
/* control frames: a minimal JSON reader for one flat object                             */

struct jp {
    const unsigned char *p, *end;
    int depth;
};

enum { J_BAD, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL, J_EMPTY, J_NONEMPTY };

struct jv {
    int type;
    char str[64]; /* decoded (UTF-8), truncated: strtrunc set */
    size_t slen;
    int strtrunc;
    double num;
    int num_is_int;
    long long inum;
    int num_ok;
};

static void jws(struct jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void jstr_put(struct jv *v, unsigned cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xc0 | (cp >> 6)); b[1] = (char)(0x80 | (cp & 0x3f)); n = 2; }
    else if (cp < 0x10000) { b[0] = (char)(0xe0 | (cp >> 12)); b[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); b[2] = (char)(0x80 | (cp & 0x3f)); n = 3; }
    else { b[0] = (char)(0xf0 | (cp >> 18)); b[1] = (char)(0x80 | ((cp >> 12) & 0x3f)); b[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); b[3] = (char)(0x80 | (cp & 0x3f)); n = 4; }
    if (v->slen + n >= sizeof v->str) {
        v->strtrunc = 1;
        return;
    }
    memcpy(v->str + v->slen, b, n);
    v->slen += n;
    v->str[v->slen] = 0;
}

static int jstring(struct jp *j, struct jv *v) {
    v->type = J_STR;
    v->slen = 0;
    v->str[0] = 0;
    v->strtrunc = 0;
    j->p++; /* the opening quote */
    while (j->p < j->end) {
        unsigned c = *j->p++;
        if (c == '"')
            return 0;
        if (c < 0x20)
            return -1; /* json.loads is strict about control characters */
        if (c != '\\') {
            if (v->slen + 1 >= sizeof v->str)
                v->strtrunc = 1;
            else {
                v->str[v->slen++] = (char)c;
                v->str[v->slen] = 0;
            }
            continue;
        }
        if (j->p >= j->end)
            return -1;
        c = *j->p++;
        switch (c) {
        case '"': case '\\': case '/': jstr_put(v, c); break;
        case 'b': jstr_put(v, '\b'); break;
        case 'f': jstr_put(v, '\f'); break;
        case 'n': jstr_put(v, '\n'); break;
        case 'r': jstr_put(v, '\r'); break;
        case 't': jstr_put(v, '\t'); break;
        case 'u': {
            if (j->end - j->p < 4)
                return -1;
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval(j->p[k]);
                if (h < 0)
                    return -1;
                cp = cp << 4 | (unsigned)h;
            }
            j->p += 4;
            jstr_put(v, cp); /* lone surrogates: kept as they are, they never match */
            break;
        }
        default:
            return -1;
        }
    }
    return -1;
}

static int jvalue(struct jp *j, struct jv *v);

static int jcontainer(struct jp *j, struct jv *v, int object) {
    struct jv scratch;
    unsigned char close_ch = object ? '}' : ']';
    if (++j->depth > 32)
        return -1;
    j->p++;
    jws(j);
    v->type = J_EMPTY;
    if (j->p < j->end && *j->p == close_ch) {
        j->p++;
        j->depth--;
        return 0;
    }
    v->type = J_NONEMPTY;
    for (;;) {
        jws(j);
        if (object) {
            if (j->p >= j->end || *j->p != '"' || jstring(j, &scratch) < 0)
                return -1;
            jws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return -1;
            jws(j);
        }
        if (jvalue(j, &scratch) < 0)
            return -1;
        jws(j);
        if (j->p >= j->end)
            return -1;
        unsigned char c = *j->p++;
        if (c == close_ch)
            break;
        if (c != ',')
            return -1;
    }
    j->depth--;
    return 0;
}

static int jliteral(struct jp *j, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return -1;
    j->p += n;
    return 0;
}

static int jnumber(struct jp *j, struct jv *v) {
    const unsigned char *s = j->p;
    char buf[64];
    size_t n = 0;
    int is_int = 1;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return -1;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        is_int = 0;
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        is_int = 0;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return -1;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    v->type = J_NUM;
    v->num_ok = 0;
    n = (size_t)(j->p - s);
    if (n >= sizeof buf)
        return 0; /* too long to be a number we can use */
    memcpy(buf, s, n);
    buf[n] = 0;
    if (is_int) {
        long long x;
        if (parse_int(buf, &x) == 0) {
            v->inum = x;
            v->num_ok = 1;
        }
    } else {
        double d = strtod(buf, NULL); /* int() truncates toward zero */
        if (d > -9.2e18 && d < 9.2e18) {
            v->inum = (long long)d;
            v->num_ok = 1;
        }
    }
    return 0;
}

static int jvalue(struct jp *j, struct jv *v) {
    jws(j);
    if (j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '"': return jstring(j, v);
    case '{': return jcontainer(j, v, 1);
    case '[': return jcontainer(j, v, 0);
    case 't': v->type = J_TRUE; return jliteral(j, "true");
    case 'f': v->type = J_FALSE; return jliteral(j, "false");
    case 'n': v->type = J_NULL; return jliteral(j, "null");
    default: return jnumber(j, v);
    }
}

/* int(doc.get(key) or 0) in Python; -1 if Python would reject the value */
static int jv_int(const struct jv *v, long long *out) {
    switch (v->type) {
    case J_NUM:
        if (!v->num_ok)
            return -1;
        *out = v->inum;
        return 0;
    case J_TRUE: *out = 1; return 0;
    case J_FALSE: case J_NULL: case J_EMPTY: *out = 0; return 0;
    case J_STR: {
        if (v->slen == 0) {
            *out = 0; /* "" or 0 -> 0 */
            return 0;
        }
        if (v->strtrunc)
            return -1;
        const char *s = v->str;
        while (is_space((unsigned char)*s))
            s++;
        char tmp[64];
        size_t n = strlen(s);
        while (n > 0 && is_space((unsigned char)s[n - 1]))
            n--;
        if (n == 0 || n >= sizeof tmp)
            return -1;
        memcpy(tmp, s, n);
        tmp[n] = 0;
        if (tmp[0] == '+' && tmp[1] != '-')
            memmove(tmp, tmp + 1, n);
        return parse_int(tmp, out);
    }
    default:
        return -1;
    }
}

struct op {
    char name[16];
    long long signal, height, width, call;
};

/* protocol.Op.decode: 0 and *op filled, or -1 (the frame is ignored) */
static int decode_op(const unsigned char *payload, size_t len, struct op *op) {
    struct jp j = {payload, payload + len, 0};
    struct jv key, val;
    int have_op = 0;
    memset(op, 0, sizeof *op);
    jws(&j);
    if (j.p >= j.end || *j.p != '{')
        return -1;
    j.p++;
    j.depth = 1;
    jws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            jws(&j);
            if (j.p >= j.end || *j.p != '"' || jstring(&j, &key) < 0)
                return -1;
            jws(&j);
            if (j.p >= j.end || *j.p++ != ':')
                return -1;
            if (jvalue(&j, &val) < 0)
                return -1;
            long long *field = NULL;
            if (!key.strtrunc) {
                if (strcmp(key.str, "op") == 0) {
                    have_op = val.type == J_STR && !val.strtrunc && val.slen < sizeof op->name &&
                              strlen(val.str) == val.slen;
                    if (have_op)
                        memcpy(op->name, val.str, val.slen + 1);
                } else if (strcmp(key.str, "signal") == 0)
                    field = &op->signal;
                else if (strcmp(key.str, "height") == 0)
                    field = &op->height;
                else if (strcmp(key.str, "width") == 0)
                    field = &op->width;
                else if (strcmp(key.str, "call") == 0)
                    field = &op->call;
            }
            if (field && jv_int(&val, field) < 0)
                return -1;
            jws(&j);
            if (j.p >= j.end)
                return -1;
            unsigned char c = *j.p++;
            if (c == '}')
                break;
            if (c != ',')
                return -1;
        }
    }
    jws(&j);
    if (j.p != j.end || !have_op)
        return -1;
    static const char *const known[] = {"start", "kill", "resize", "close_stdin", "pause", "resume", "subscribe"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(op->name, known[i]) == 0)
            return 0;
    return -1; /* an op from a newer ketchd: ignored */
}

/* ---------------------------------------------------------------------------------- */
/* ops                                                                                  */

static void answer(struct client *c, const char *verb, long long call, int pausing) {
    struct event e = {.event = "error", .call = call};
    char err[ERR_CAP], msg[ERR_CAP + 64];
    if (!init_pid || exit_code >= 0) {
        e.message = "container not running";
        e.message_len = strlen(e.message);
    } else {
        size_t errlen;
        if (run_runtime(verb, NULL, err, sizeof err, &errlen) == 0) {
            e.event = "done";
            paused = pausing;
        } else {
            e.message = msg;
            e.message_len = runtime_message(verb, err, errlen, msg, sizeof msg);
        }
    }
    send_event(c, &e);
}

static void handle_control(struct client *c, const unsigned char *payload, size_t len) {
    struct op op;
    if (decode_op(payload, len, &op) < 0)
        return;
    if (strcmp(op.name, "kill") == 0) {
        if (init_pid && exit_code < 0) {
            long long sig = op.signal ? op.signal : SIGTERM;
            if (sig > 0 && sig < 65 && kill(init_pid, (int)sig) < 0 && errno != ESRCH)
                warnf("ketch-monitor: kill %lld: %s", sig, strerror(errno));
        }
    } else if (strcmp(op.name, "resize") == 0) {
        if (pty_fd >= 0 && op.height >= 0 && op.height <= 65535 && op.width >= 0 && op.width <= 65535) {
            struct winsize ws = {.ws_row = (unsigned short)op.height, .ws_col = (unsigned short)op.width};
            if (ioctl(pty_fd, TIOCSWINSZ, &ws) < 0)
                warnf("ketch-monitor: TIOCSWINSZ: %s", strerror(errno));
        }
    } else if (strcmp(op.name, "close_stdin") == 0) {
        close_stdin();
    } else if (strcmp(op.name, "pause") == 0) {
        answer(c, "pause", op.call, 1);
    } else if (strcmp(op.name, "resume") == 0) {
        answer(c, "resume", op.call, 0);
    } else if (strcmp(op.name, "subscribe") == 0) {
        c->subscribed = 1;
        struct event e = {.event = "status", .pid = init_pid,
                          .state = exit_code >= 0 ? "exited" : "running", .paused = paused};
        send_event(c, &e);
    } /* "start": started already */
}

/* Frames from a client, as protocol.FrameReader splits them; stdin payloads are passed
 * on as they come rather than held until complete, so no frame size needs a buffer. */
static void feed(struct client *c, const unsigned char *data, size_t n) {
    while (n > 0 && c->fd >= 0) {
        if (c->hlen < 8) {
            size_t take = 8 - c->hlen < n ? 8 - c->hlen : n;
            memcpy(c->hdr + c->hlen, data, take);
            c->hlen += take;
            data += take;
            n -= take;
            if (c->hlen < 8)
                return;
            int stream = c->hdr[0];
            c->remain = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 | (uint32_t)c->hdr[6] << 8 | c->hdr[7];
            c->clen = 0;
            if (stream == ST_STDIN)
                c->mode = 'i';
            else if (stream == ST_CONTROL && c->remain <= MAX_CONTROL) {
                c->mode = 'c';
                c->ctl = malloc(c->remain ? c->remain : 1);
                if (!c->ctl)
                    c->mode = 's';
            } else
                c->mode = 's';
            if (c->remain == 0) {
                if (c->mode == 'i')
                    close_stdin(); /* an empty stdin frame */
                else if (c->mode == 'c')
                    handle_control(c, c->ctl, 0);
                free(c->ctl);
                c->ctl = NULL;
                c->hlen = 0;
            }
            continue;
        }
        size_t take = c->remain < n ? c->remain : n;
        if (c->mode == 'i')
            write_stdin(data, take);
        else if (c->mode == 'c') {
            memcpy(c->ctl + c->clen, data, take);
            c->clen += take;
        }
        data += take;
        n -= take;
        c->remain -= (uint32_t)take;
        if (c->remain == 0) {
            if (c->mode == 'c' && c->fd >= 0)
                handle_control(c, c->ctl, c->clen);
            free(c->ctl);
            c->ctl = NULL;
            c->hlen = 0;
        }
    }
}

static unsigned char rbuf[8 + READ_CHUNK];

static void on_client(struct client *c) {
    ssize_t n;
    do
        n = recv(c->fd, rbuf, READ_CHUNK, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) {
        drop(c);
        return;
    }
    feed(c, rbuf, (size_t)n);
}

static struct client *add_client(int fd, int subscribed) {
    if (nclients >= MAX_CLIENTS) {
        warnf("ketch-monitor: too many clients; closing one");
        close(fd);
        return NULL;
    }
    struct client *c = &clients[nclients++];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->subscribed = subscribed;
    return c;
}

static void on_accept(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            warnf("ketch-monitor: accept: %s", strerror(errno));
        return;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK); /* writes block, as in monitor.py */
    add_client(fd, 0);
}

static void on_output(struct stream *s) {
    ssize_t n;
    do
        n = read(s->fd, rbuf + 8, READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return;
    int64_t now = now_ns();
    if (n <= 0) { /* EOF; EIO: the terminal's last slave is closed */
        if (n < 0 && errno != EIO)
            warnf("ketch-monitor: reading %s: %s", s->name, strerror(errno));
        log_flush(s, now);
        if (s->fd != pty_fd)
            close(s->fd);
        s->fd = -1;
        return;
    }
    log_write(s, rbuf + 8, (size_t)n, now);
    put_header(rbuf, s == &outs[0] ? ST_STDOUT : ST_STDERR, (uint32_t)n);
    broadcast(rbuf, (size_t)n + 8);
}

static void reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            return;
        if (pid == compress_pid)
            compress_pid = 0;
        if (pid == init_pid && exit_code < 0)
            exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
                        : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    }
}

static void on_signal(void) {
    struct signalfd_siginfo si[8];
    ssize_t n;
    do
        n = read(sig_fd, si, sizeof si);
    while (n < 0 && errno == EINTR);
    reap();
}

/* ---------------------------------------------------------------------------------- */
/* the exit                                                                             */

static int read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    close(fd);
    buf[len] = 0;
    return 0;
}

/* "key value" lines (stats.flat_keyed): the value of key, or -1 */
static long long flat_keyed(const char *text, const char *key) {
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            long long v;
            char num[32];
            size_t n = strcspn(line + klen + 1, "\n");
            if (n >= sizeof num)
                return -1;
            memcpy(num, line + klen + 1, n);
            num[n] = 0;
            return parse_int(num, &v) == 0 ? v : -1;
        }
    }
    return -1;
}

/* cgroups.manager(path).oom_killed(), on cgroup v2 or v1 (+ hybrid) */
static int oom_killed(void) {
    static const char root[] = "/sys/fs/cgroup";
    char clean[PATH_MAX], path[PATH_MAX * 2], text[4096];
    size_t len = 0;
    /* fs.clean_path: no empty or "." parts, never "..", never the root */
    const char *p = cgroups_path;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        if (!(n == 1 && p[0] == '.')) {
            if (len + n + 2 >= sizeof clean)
                return 0;
            clean[len++] = '/';
            memcpy(clean + len, p, n);
            len += n;
        }
        p += n;
    }
    if (len == 0)
        return 0;
    clean[len] = 0;
    snprintf(path, sizeof path, "%s/cgroup.controllers", root);
    if (access(path, F_OK) == 0) {
        snprintf(path, sizeof path, "%s%s/memory.events", root, clean);
        return read_small(path, text, sizeof text) == 0 && flat_keyed(text, "oom_kill") > 0;
    }
    DIR *d = opendir(root);
    if (!d)
        return 0;
    struct dirent *ent;
    int found = 0;
    while (!found && (ent = readdir(d))) {
        if (ent->d_name[0] == '.' || strcmp(ent->d_name, "unified") == 0)
            continue;
        int has_memory = 0;
        char names[256];
        snprintf(names, sizeof names, "%s", ent->d_name);
        for (char *save, *tok = strtok_r(names, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            if (strcmp(tok, "memory") == 0)
                has_memory = 1;
        if (!has_memory)
            continue;
        snprintf(path, sizeof path, "%s/%s/cgroup.procs", root, ent->d_name);
        if (access(path, F_OK) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s%s/memory.oom_control", root, ent->d_name, clean);
        if (read_small(path, text, sizeof text) == 0)
            found = flat_keyed(text, "oom_kill") > 0 || flat_keyed(text, "under_oom") == 1;
        break;
    }
    closedir(d);
    return found;
}

static void write_exit_json(const char *finished, int oom) {
    char path[PATH_MAX], tmp[PATH_MAX + 32], doc[256];
    snprintf(path, sizeof path, "%s/exit.json", state_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
    /* json.dumps(Event.exit_doc()): Python's default separators */
    int n = snprintf(doc, sizeof doc, "{\"exit_code\": %d, \"finished_at\": \"%s\", \"oom_killed\": %s}",
                     exit_code, finished, oom ? "true" : "false");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        warnf("ketch-monitor: %s: %s", tmp, strerror(errno));
        return;
    }
    int bad = write_all(fd, doc, (size_t)n) < 0;
    if (close(fd) < 0 && errno != EINTR)
        bad = 1;
    if (bad || rename(tmp, path) < 0) {
        warnf("ketch-monitor: writing %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

static int connect_unix(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char shortened[64];
    int dirfd = -1;
    if (strlen(path) >= sizeof addr.sun_path) { /* ketch/linux/unixpath.reachable's way */
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX];
        if (!slash || (size_t)(slash - path) >= sizeof dir)
            return -1;
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = 0;
        dirfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return -1;
        snprintf(shortened, sizeof shortened, "/proc/self/fd/%d/", dirfd);
        if (strlen(shortened) + strlen(slash + 1) >= sizeof addr.sun_path) {
            close(dirfd);
            return -1;
        }
        size_t a = strlen(shortened), b = strlen(slash + 1); /* fits: checked above */
        memcpy(addr.sun_path, shortened, a);
        memcpy(addr.sun_path + a, slash + 1, b + 1);
    } else {
        memcpy(addr.sun_path, path, strlen(path) + 1);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0;
    while (ok && connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        if (errno != EINTR)
            ok = 0;
    if (dirfd >= 0)
        close(dirfd);
    if (!ok && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The fork server deletes the container (forkserver._delete); 0 if it answered "ok". */
static int delete_via_forkserver(void) {
    if (!delete_socket || !delete_line)
        return -1;
    int fd = connect_unix(delete_socket);
    if (fd < 0)
        return -1;
    struct client c = {.fd = fd};
    send_to(&c, delete_line, strlen(delete_line));
    if (c.fd < 0)
        return -1;
    char reply[256];
    size_t len = 0;
    int64_t deadline = mono_ms() + 30000;
    while (len < sizeof reply - 1 && !memchr(reply, '\n', len)) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            break;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t n = recv(fd, reply + len, sizeof reply - 1 - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len >= 3 && memcmp(reply, "ok\n", 3) == 0)
        return 0;
    reply[len] = 0;
    warnf("ketch-monitor: the fork server did not delete the container (%s); the runtime's CLI will",
          len ? reply : "no answer");
    return -1;
}

static void finish(void) {
    char finished[64], err[ERR_CAP];
    size_t errlen;
    format_time(now_ns(), 0, finished, sizeof finished);
    int oom = oom_killed();
    /* The runtime's state and the cgroup go before "exited" is reported, so that whoever
     * sees the exit also sees nothing of the container left on the host. */
    if (delete_via_forkserver() < 0 && run_runtime("delete", "--force", err, sizeof err, &errlen) < 0)
        warnf("ketch-monitor: runtime delete failed: %.*s", (int)errlen, err);
    /* Nothing in the bundle directory is touched after "exited": ketchd may start the next
     * run there at once, and its monitor listens on the same monitor.sock. */
    close(listen_fd);
    listen_fd = -1;
    char sock[PATH_MAX];
    snprintf(sock, sizeof sock, "%s/monitor.sock", state_dir);
    if (unlink(sock) < 0 && errno != ENOENT)
        warnf("ketch-monitor: unlink %s: %s", sock, strerror(errno));
    write_exit_json(finished, oom);
    struct event e = {.event = "exited", .exit_code = exit_code, .finished_at = finished, .oom_killed = oom};
    broadcast_event(&e);
    if (pty_fd >= 0)
        close(pty_fd);
    for (int i = 0; i < nclients; i++)
        drop(&clients[i]);
    if (logout.fd >= 0)
        close(logout.fd);
    wait_compressor();
}

/* ---------------------------------------------------------------------------------- */

static void read_fd_into(int fd, void (*sink)(void *, const unsigned char *, size_t), void *arg) {
    unsigned char buf[4096];
    if (lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE)
        die("lseek");
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("reading a hand-over file");
        if (n == 0)
            break;
        sink(arg, buf, (size_t)n);
    }
    close(fd);
}

static void sink_partial(void *arg, const unsigned char *d, size_t n) {
    struct stream *s = arg;
    if (s->plen + n > MAX_PARTIAL - 1) {
        warnf("ketch-monitor: a partial line longer than a log entry was handed over");
        exit(2);
    }
    memcpy(s->partial + s->plen, d, n);
    s->plen += n;
}

static void sink_client(void *arg, const unsigned char *d, size_t n) { feed(arg, d, n); }

static void usage(void) {
    warnf("usage: ketch-monitor --id ID --pid N --state-dir D --log-fd FD|--log-path P --listener FD "
          "[--stdout FD] [--stderr FD] [--pty FD] [--stdin FD] [--client FD:SUB[:LEFTOVER]]... "
          "[--partial-stdout FD] [--partial-stderr FD] [--paused] [--cgroups-path C] "
          "[--runtime-kind ketch|cli] [--delete-via SOCKET LINE] [--trace PATH] "
          "[--log-driver json-file|local|none] [--log-max-size N --log-max-file N] [--log-compress] -- RUNTIME...\n"
          "       ketch-monitor --replay-log PATH [--log-max-size N --log-max-file N] [--log-compress] < trace");
    exit(2);
}

int main(int argc, char **argv) {
    const char *trace_path = NULL;
    int partial_fd[2] = {-1, -1};
    char *client_specs[MAX_CLIENTS];
    int nspecs = 0;
    long long v;

    outs[0].name = "stdout";
    outs[1].name = "stderr";
    outs[0].fd = outs[1].fd = -1;
    if (argc >= 3 && strcmp(argv[1], "--replay-log") == 0) {
        for (int k = 3; k < argc; k++)
            if (log_option(argv[k], argc, argv, &k) != 1)
                usage();
        return replay_log(argv[2]);
    }
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        int known = log_option(a, argc, argv, &i);
        if (known < 0)
            usage();
        if (known)
            continue;
        if (strcmp(a, "--paused") == 0) {
            paused = 1;
            continue;
        }
        if (i + 1 >= argc)
            usage();
        if (strcmp(a, "--delete-via") == 0) {
            if (i + 2 >= argc)
                usage();
            delete_socket = argv[++i];
            delete_line = argv[++i];
            continue;
        }
        const char *val = argv[++i];
        if (strcmp(a, "--id") == 0) cid = val;
        else if (strcmp(a, "--pid") == 0) {
            if (parse_int(val, &v) < 0 || v <= 0 || v > INT_MAX)
                usage();
            init_pid = (pid_t)v;
        }
        else if (strcmp(a, "--state-dir") == 0) state_dir = val;
        else if (strcmp(a, "--log-path") == 0) log_path = val;
        else if (strcmp(a, "--log-fd") == 0) logout.fd = parse_fd(val);
        else if (strcmp(a, "--listener") == 0) listen_fd = parse_fd(val);
        else if (strcmp(a, "--stdout") == 0) outs[0].fd = parse_fd(val);
        else if (strcmp(a, "--stderr") == 0) outs[1].fd = parse_fd(val);
        else if (strcmp(a, "--pty") == 0) pty_fd = parse_fd(val);
        else if (strcmp(a, "--stdin") == 0) stdin_fd = parse_fd(val);
        else if (strcmp(a, "--partial-stdout") == 0) partial_fd[0] = parse_fd(val);
        else if (strcmp(a, "--partial-stderr") == 0) partial_fd[1] = parse_fd(val);
        else if (strcmp(a, "--cgroups-path") == 0) cgroups_path = val;
        else if (strcmp(a, "--runtime-kind") == 0) runtime_kind = val;
        else if (strcmp(a, "--trace") == 0) trace_path = val;
        else if (strcmp(a, "--client") == 0) {
            if (nspecs >= MAX_CLIENTS)
                usage();
            client_specs[nspecs++] = (char *)val;
        } else
            usage();
    }
    for (; i < argc && runtime_argc < MAX_ARGS - 1; i++)
        runtime_argv[runtime_argc++] = argv[i];
    if (!cid || !init_pid || !state_dir || !log_path || listen_fd < 0 ||
        runtime_argc == 0 || i < argc)
        usage();
    if (pty_fd >= 0 && stdin_fd < 0)
        stdin_fd = pty_fd; /* a terminal: its output comes as --stdout PTY until EOF */

    /* SIGCHLD through a signalfd; SIGPIPE never (a gone client is an error on send). */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        die("sigprocmask");
    sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_fd < 0)
        die("signalfd");
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* kept across execve; set again all the same */
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0)
        die("/dev/null");

    /* What crossed the exec must not cross the next one (the runtime's). */
    set_cloexec(listen_fd);
    for (int k = 0; k < 2; k++)
        if (outs[k].fd >= 0) {
            set_cloexec(outs[k].fd);
            int fl = fcntl(outs[k].fd, F_GETFL);
            if (fl < 0 || fcntl(outs[k].fd, F_SETFL, fl | O_NONBLOCK) < 0)
                die("fcntl(O_NONBLOCK)");
        }
    if (stdin_fd >= 0)
        set_cloexec(stdin_fd);
    int fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
        die("fcntl(O_NONBLOCK)");

    if (log_none && logout.fd >= 0)
        close(logout.fd);
    if (log_none)
        logout.fd = -1;
    else if (logout.fd >= 0)
        set_cloexec(logout.fd);
    else
        logout.fd = open_log(log_path);
    log_start_size();
    if (trace_path) {
        trace_fd = open(trace_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (trace_fd < 0)
            warnf("ketch-monitor: %s: %s", trace_path, strerror(errno));
    }
    for (int k = 0; k < 2; k++)
        if (partial_fd[k] >= 0)
            read_fd_into(partial_fd[k], sink_partial, &outs[k]);

    int leftover[MAX_CLIENTS];
    for (int k = 0; k < nspecs; k++) {
        char *spec = client_specs[k], *save;
        char *f = strtok_r(spec, ":", &save), *sub = strtok_r(NULL, ":", &save), *left = strtok_r(NULL, ":", &save);
        if (!f || !sub)
            usage();
        int fd = parse_fd(f);
        set_cloexec(fd);
        leftover[k] = left ? parse_fd(left) : -1;
        add_client(fd, strcmp(sub, "1") == 0);
    }
    reap(); /* the init may have exited before the exec, its SIGCHLD gone with Python */
    for (int k = 0; k < nspecs && exit_code < 0; k++)
        if (leftover[k] >= 0)
            read_fd_into(leftover[k], sink_client, &clients[k]);
    compact_clients();

    struct pollfd pfds[4 + MAX_CLIENTS];
    while (exit_code < 0) {
        int n = 0;
        pfds[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        pfds[n++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        for (int k = 0; k < 2; k++)
            pfds[n++] = (struct pollfd){.fd = outs[k].fd, .events = POLLIN}; /* -1: ignored */
        int base = n;
        for (int k = 0; k < nclients; k++)
            pfds[n++] = (struct pollfd){.fd = clients[k].fd, .events = POLLIN};
        int ready = poll(pfds, (nfds_t)n, -1);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (pfds[0].revents)
            on_signal();
        for (int k = 0; k < 2; k++)
            if (pfds[2 + k].revents && outs[k].fd >= 0)
                on_output(&outs[k]);
        int before = nclients;
        for (int k = 0; k < before; k++)
            if (pfds[base + k].revents && clients[k].fd >= 0)
                on_client(&clients[k]);
        compact_clients();
        if (pfds[1].revents)
            on_accept();
    }

    /* drain what the container wrote before it ended (its children may hold the pipes) */
    int64_t deadline = mono_ms() + DRAIN_MS;
    for (;;) {
        struct pollfd p[2];
        struct stream *which[2];
        int n = 0;
        for (int k = 0; k < 2; k++)
            if (outs[k].fd >= 0) {
                p[n] = (struct pollfd){.fd = outs[k].fd, .events = POLLIN};
                which[n++] = &outs[k];
            }
        int64_t left = deadline - mono_ms();
        if (n == 0 || left <= 0)
            break;
        int ready = poll(p, (nfds_t)n, (int)left);
        if (ready < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n && ready > 0; k++)
            if (p[k].revents && which[k]->fd >= 0)
                on_output(which[k]);
        compact_clients();
    }
    finish();
    return 0;
}
