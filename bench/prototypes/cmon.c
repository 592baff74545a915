/* Prototype (c): a container monitor in C, as small as it can be while doing the job.
 *
 *   cmon STATE_DIR LOG_PATH -- ARGV...
 *   cmon STATE_DIR LOG_PATH --adopt PID STDOUT_FD STDERR_FD
 *
 * The second form is for a process that already created the container and then exec()s
 * cmon: ketch's warm fork server forks, the child runs the runtime's create in Python
 * (ketch's runtime in-process, or `runc create`), then execs cmon, which keeps the pid,
 * the container's init as its child and the inherited pipe fds (or pty master).
 *
 * Becomes a child subreaper, runs ARGV (standing in for "runtime create/start": with runc
 * it would run `runc create` and read --pid-file, and receive the pty master over
 * --console-socket) with stdout/stderr on pipes, pumps them into Docker's json-file log
 * (one {"log","stream","time"} object per line), serves STATE_DIR/monitor.sock where a
 * subscriber gets Docker-framed output (8-byte header) and may send a control frame
 * "kill <signo>", reaps every child it inherits, and when ARGV's process exits writes
 * STATE_DIR/exit.json ({"exit_code","finished_at","oom_killed"}) atomically and exits.
 * Single-threaded: one poll() loop, SIGCHLD through a signalfd. No heap growth after start
 * beyond the partial-line buffers.
 *
 *   gcc -O2 -s -o cmon cmon.c        (glibc; static with -static for a ~800 KiB binary)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 8
#define PARTIAL 16384

static int log_fd = -1;
static char partial[3][PARTIAL];
static size_t partial_len[3];
static int clients[MAX_CLIENTS];
static int nclients;

static void rfc3339(char *out, size_t n) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    char frac[16];
    int len = snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
    while (len > 1 && frac[len - 1] == '0') frac[--len] = 0; /* Docker trims the zeros */
    if (len == 1) len = 0;
    snprintf(out + k, n - k, "%.*sZ", len, frac);
}

/* One json-file entry: {"log":"<escaped line>","stream":"stdout","time":"..."} */
static void log_entry(int stream, const char *data, size_t len) {
    static char buf[PARTIAL * 6 + 128];
    char ts[64];
    size_t o = 0;
    rfc3339(ts, sizeof ts);
    o += (size_t)sprintf(buf, "{\"log\":\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '"' || c == '\\') { buf[o++] = '\\'; buf[o++] = (char)c; }
        else if (c == '\n') { buf[o++] = '\\'; buf[o++] = 'n'; }
        else if (c == '\r') { buf[o++] = '\\'; buf[o++] = 'r'; }
        else if (c == '\t') { buf[o++] = '\\'; buf[o++] = 't'; }
        else if (c < 0x20) o += (size_t)sprintf(buf + o, "\\u%04x", c);
        else buf[o++] = (char)c; /* UTF-8 passes through; Docker replaces invalid bytes */
    }
    o += (size_t)sprintf(buf + o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
                         stream == 1 ? "stdout" : "stderr", ts);
    if (write(log_fd, buf, o) < 0) { /* the disk is full: keep the container running */ }
}

static void log_write(int stream, const char *data, size_t len) {
    for (size_t i = 0; i < len; i++) {
        partial[stream][partial_len[stream]++] = data[i];
        if (data[i] == '\n' || partial_len[stream] == PARTIAL) {
            log_entry(stream, partial[stream], partial_len[stream]);
            partial_len[stream] = 0;
        }
    }
}

static void broadcast(int stream, const char *data, size_t len) {
    unsigned char hdr[8] = {(unsigned char)stream, 0, 0, 0,
                            (unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    for (int i = 0; i < nclients; i++) {
        if (send(clients[i], hdr, 8, MSG_NOSIGNAL) != 8 ||
            send(clients[i], data, len, MSG_NOSIGNAL) != (ssize_t)len) {
            close(clients[i]);
            clients[i--] = clients[--nclients];
        }
    }
}

static void write_exit(const char *dir, int code) {
    char tmp[4096], path[4096], ts[64], doc[256];
    rfc3339(ts, sizeof ts);
    snprintf(tmp, sizeof tmp, "%s/exit.json.tmp", dir);
    snprintf(path, sizeof path, "%s/exit.json", dir);
    int n = snprintf(doc, sizeof doc, "{\"exit_code\":%d,\"finished_at\":\"%s\",\"oom_killed\":false}", code, ts);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (write(fd, doc, (size_t)n) == n && fsync(fd) == 0) rename(tmp, path);
    close(fd);
}

int main(int argc, char **argv) {
    int adopt = argc == 7 && strcmp(argv[3], "--adopt") == 0;
    if (!adopt && (argc < 5 || strcmp(argv[3], "--") != 0)) {
        fprintf(stderr, "usage: cmon STATE_DIR LOG_PATH -- ARGV... | --adopt PID STDOUT_FD STDERR_FD\n");
        return 2;
    }
    const char *dir = argv[1];
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    log_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int out[2], err[2];
    if (adopt) {
        out[0] = atoi(argv[5]);
        err[0] = atoi(argv[6]);
        fcntl(out[0], F_SETFD, FD_CLOEXEC);
        fcntl(err[0], F_SETFD, FD_CLOEXEC);
    } else if (log_fd < 0 || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) { perror("cmon"); return 1; }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGPIPE);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    pid_t child = adopt ? (pid_t)atoi(argv[4]) : fork();
    if (adopt) {
        raise(SIGCHLD); /* it may have exited before the signalfd existed: reap once at once */
    } else if (child == 0) {
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execvp(argv[4], argv + 4);
        _exit(127);
    }
    if (!adopt) {
        close(out[1]);
        close(err[1]);
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s/monitor.sock", dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(addr.sun_path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 8)) { perror("cmon: bind"); return 1; }

    int exit_code = -1, open_outputs = 2;
    struct timespec drain_until = {0};
    static char buf[65536];
    for (;;) {
        struct pollfd p[4 + MAX_CLIENTS];
        int n = 0;
        p[n++] = (struct pollfd){sfd, POLLIN, 0};
        p[n++] = (struct pollfd){lfd, POLLIN, 0};
        p[n++] = (struct pollfd){out[0], POLLIN, 0};
        p[n++] = (struct pollfd){err[0], POLLIN, 0};
        for (int i = 0; i < nclients; i++) p[n++] = (struct pollfd){clients[i], POLLIN, 0};
        int timeout = -1;
        if (exit_code >= 0) {
            if (open_outputs == 0) break;
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > drain_until.tv_sec) break; /* daemonized grandchildren hold the pipes */
            timeout = 100;
        }
        if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR) break;
        if (p[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {}
            int status;
            pid_t w;
            while ((w = waitpid(-1, &status, WNOHANG)) > 0) { /* reap all: we are a subreaper */
                if (w == child) {
                    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                    clock_gettime(CLOCK_MONOTONIC, &drain_until);
                    drain_until.tv_sec += 2;
                }
            }
        }
        if ((p[1].revents & POLLIN) && nclients < MAX_CLIENTS) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) clients[nclients++] = c;
        }
        for (int s = 0; s < 2; s++) {
            struct pollfd *q = &p[2 + s];
            if (q->fd < 0 || !(q->revents & (POLLIN | POLLHUP))) continue;
            ssize_t r = read(q->fd, buf, sizeof buf);
            if (r > 0) {
                log_write(s + 1, buf, (size_t)r);
                broadcast(s + 1, buf, (size_t)r);
            } else if (r == 0 || errno != EAGAIN) {
                if (partial_len[s + 1]) { log_entry(s + 1, partial[s + 1], partial_len[s + 1]); partial_len[s + 1] = 0; }
                close(q->fd);
                if (s == 0) out[0] = -1; else err[0] = -1;
                open_outputs--;
            }
        }
        for (int i = 0; i < n - 4; i++) {
            struct pollfd *q = &p[4 + i];
            if (!(q->revents & (POLLIN | POLLHUP))) continue;
            unsigned char hdr[8];
            char cmd[64] = {0};
            ssize_t r = recv(q->fd, hdr, 8, MSG_WAITALL);
            size_t len = r == 8 ? ((size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 | (size_t)hdr[6] << 8 | hdr[7]) : 0;
            if (r != 8 || len >= sizeof cmd || recv(q->fd, cmd, len, MSG_WAITALL) != (ssize_t)len) {
                close(q->fd);
                for (int j = 0; j < nclients; j++) if (clients[j] == q->fd) { clients[j] = clients[--nclients]; break; }
                continue;
            }
            int sig;
            if (hdr[0] == 0x10 && sscanf(cmd, "kill %d", &sig) == 1 && exit_code < 0) kill(child, sig);
        }
    }
    close(log_fd);
    write_exit(dir, exit_code);
    unlink(addr.sun_path);
    return 0;
}
