/* probe: what a process inside a container can see and do.
 *
 * A static program the conformance and escape tests put into an image and run as the
 * container's command, under ketch's runtime and under runc. It prints plain lines that
 * the tests parse; it never decides what is right. Several subcommands can run in one
 * container, separated by "--" (the separator is echoed between their outputs):
 *
 *   probe status -- cat /proc/self/mountinfo -- dev
 *
 * Failures are reported as errno names (EPERM, EROFS, ...), so the output is the same
 * on every machine. Every call that could change something outside the container if it
 * were wrongly allowed is made with arguments that make it harmless: the clock is set
 * to the value just read, reboot gets an invalid magic, paths do not exist.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(int e) {
    const char *name = strerrorname_np(e);
    return name ? name : "E?";
}

static void result(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "OK" : err(errno));
}

/* ---- syscalls, each made in a child of its own ---------------------------------- */

static long now_settime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return clock_settime(CLOCK_REALTIME, &ts);
}

static long now_settimeofday(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return settimeofday(&tv, NULL);
}

static long sys_getpid(void) { return getpid() > 0 ? 0 : -1; }
static long sys_mount(void) { return mount("none", "/tmp", "tmpfs", 0, NULL); }
static long sys_mount_cgroup(void) { return mount("cgroup", "/tmp", "cgroup", 0, "memory"); }
static long sys_mount_cgroup2(void) { return mount("cgroup2", "/tmp", "cgroup2", 0, NULL); }
static long sys_umount2(void) { return umount2("/nonexistent", 0); }
static long sys_fsopen(void) { return syscall(SYS_fsopen, "tmpfs", 0); }
static long sys_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long sys_finit_module(void) { return syscall(SYS_finit_module, -1, "", 0); }
static long sys_delete_module(void) { return syscall(SYS_delete_module, "probe_none", O_NONBLOCK); }
static long sys_keyctl(void) { return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0); }
static long sys_add_key(void) { return syscall(SYS_add_key, "user", NULL, NULL, 0, -2); }
static long sys_request_key(void) { return syscall(SYS_request_key, "user", "probe-none", NULL, 0); }
static long sys_unshare_user(void) { return unshare(CLONE_NEWUSER); }
static long sys_unshare_mnt(void) { return unshare(CLONE_NEWNS); }
static long sys_setns(void) { return setns(-1, 0); }
static long sys_reboot(void) {  /* a wrong second magic: EINVAL even when allowed */
    return syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_POWER_OFF, NULL);
}
static long sys_swapon(void) { return swapon("/nonexistent", 0); }
static long sys_swapoff(void) { return swapoff("/nonexistent"); }
static long sys_acct(void) { return acct("/nonexistent"); }
static long sys_pivot_root(void) { return syscall(SYS_pivot_root, "/nonexistent", "/nonexistent"); }
static long sys_kexec_load(void) { return syscall(SYS_kexec_load, 0, 0, NULL, 0); }
static long sys_open_by_handle_at(void) { return syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0); }
static long sys_bpf(void) { return syscall(SYS_bpf, -1, NULL, 0); }
static long sys_perf_event_open(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long sys_syslog(void) { return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0); }
static long sys_ioperm(void) { return syscall(SYS_ioperm, 0x80, 1, 0); }
static long sys_iopl(void) { return syscall(SYS_iopl, 0); }
static long sys_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
static long sys_io_uring_setup(void) { return syscall(SYS_io_uring_setup, 0, NULL); }
static long sys_ptrace(void) { return ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static long sys_chroot(void) { return chroot("/"); }

static const struct { const char *name; long (*call)(void); } SYSCALLS[] = {
    {"getpid", sys_getpid}, {"mount", sys_mount}, {"mount_cgroup", sys_mount_cgroup},
    {"mount_cgroup2", sys_mount_cgroup2}, {"umount2", sys_umount2}, {"fsopen", sys_fsopen},
    {"init_module", sys_init_module}, {"finit_module", sys_finit_module},
    {"delete_module", sys_delete_module}, {"clock_settime", now_settime},
    {"settimeofday", now_settimeofday}, {"keyctl", sys_keyctl}, {"add_key", sys_add_key},
    {"request_key", sys_request_key}, {"unshare_user", sys_unshare_user},
    {"unshare_mnt", sys_unshare_mnt}, {"setns", sys_setns}, {"reboot", sys_reboot},
    {"swapon", sys_swapon}, {"swapoff", sys_swapoff}, {"acct", sys_acct},
    {"pivot_root", sys_pivot_root}, {"kexec_load", sys_kexec_load},
    {"open_by_handle_at", sys_open_by_handle_at}, {"bpf", sys_bpf},
    {"perf_event_open", sys_perf_event_open}, {"syslog", sys_syslog}, {"ioperm", sys_ioperm},
    {"iopl", sys_iopl}, {"userfaultfd", sys_userfaultfd},
    {"io_uring_setup", sys_io_uring_setup}, {"ptrace", sys_ptrace}, {"chroot", sys_chroot},
};

static int cmd_syscall(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        long (*call)(void) = NULL;
        for (size_t j = 0; j < sizeof SYSCALLS / sizeof SYSCALLS[0]; j++)
            if (!strcmp(SYSCALLS[j].name, argv[i])) call = SYSCALLS[j].call;
        if (!call) {
            printf("%s: unknown\n", argv[i]);
            continue;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(call() == -1 ? errno : 0);
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) printf("%s: signal %d\n", argv[i], WTERMSIG(status));
        else if (WEXITSTATUS(status) == 0) printf("%s: OK\n", argv[i]);
        else printf("%s: %s\n", argv[i], err(WEXITSTATUS(status)));
    }
    return 0;
}

/* ---- files ----------------------------------------------------------------------- */

static int cmd_cat(int argc, char **argv) {
    char buf[4096];
    for (int i = 0; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        ssize_t n;
        if (fd < 0) { result(argv[i], 0); continue; }
        while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
        close(fd);
    }
    return 0;
}

/* "path: N bytes" for a file (at most 64 KiB are read: /proc/kcore is as large as the
 * address space), "path: N entries" for a directory, or the error */
static int cmd_read(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        long n = 0;
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
            closedir(d);
            printf("%s: %ld entries\n", argv[i], n);
            continue;
        }
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) { result(argv[i], 0); continue; }
        char buf[4096];
        ssize_t r = 0;
        while (n < 65536 && (r = read(fd, buf, sizeof buf)) > 0) n += r;
        close(fd);
        if (r < 0) result(argv[i], 0);
        else printf("%s: %ld bytes\n", argv[i], n);
    }
    return 0;
}

/* open for writing and close without writing anything */
static int cmd_open_write(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        int fd = open(argv[i], O_WRONLY);
        result(argv[i], fd >= 0);
        if (fd >= 0) close(fd);
    }
    return 0;
}

static int cmd_mkdir(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        int ok = mkdir(argv[i], 0755) == 0;
        result(argv[i], ok);
        if (ok) rmdir(argv[i]);
    }
    return 0;
}

static void list_dev(const char *dir) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        result(dir, 0);
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[512], target[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] == '.' || lstat(path, &st) != 0) { free(names[i]); continue; }
        unsigned mode = st.st_mode & 07777;
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            printf("%s %c %u:%u %04o\n", path, S_ISCHR(st.st_mode) ? 'c' : 'b',
                   major(st.st_rdev), minor(st.st_rdev), mode);
        else if (S_ISLNK(st.st_mode)) {
            ssize_t len = readlink(path, target, sizeof target - 1);
            target[len < 0 ? 0 : len] = 0;
            printf("%s l %s\n", path, target);
        } else printf("%s %c %04o\n", path, S_ISDIR(st.st_mode) ? 'd' : 'f', mode);
        free(names[i]);
    }
    free(names);
}

/* each directory's entries (default /dev and /dev/pts): path, type, device numbers
 * and mode, or a link's target */
static int cmd_dev(int argc, char **argv) {
    if (argc == 0) {
        list_dev("/dev");
        list_dev("/dev/pts");
    }
    for (int i = 0; i < argc; i++) list_dev(argv[i]);
    return 0;
}

/* mknod a device node, then try to open it */
static int cmd_mknod_open(int argc, char **argv) {
    if (argc != 4) return 2;
    mode_t kind = argv[1][0] == 'b' ? S_IFBLK : S_IFCHR;
    unlink(argv[0]);
    result("mknod", mknod(argv[0], kind | 0600, makedev(atoi(argv[2]), atoi(argv[3]))) == 0);
    int fd = open(argv[0], O_RDONLY | O_NONBLOCK);
    result("open", fd >= 0);
    if (fd >= 0) close(fd);
    unlink(argv[0]);
    return 0;
}

/* ---- the process ------------------------------------------------------------------- */

static int cmd_status(int argc, char **argv) {
    (void)argc; (void)argv;
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11) ||
            !strncmp(line, "Seccomp:", 8))
            fputs(line, stdout);
    fclose(f);
    return 0;
}

static int cmd_ids(int argc, char **argv) {
    (void)argc; (void)argv;
    uid_t r, e, s;
    gid_t gr, ge, gs, groups[256];
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("uid %u %u %u\ngid %u %u %u\ngroups", r, e, s, gr, ge, gs);
    int n = getgroups(256, groups);
    for (int i = 0; i < n; i++) printf(" %u", groups[i]);
    printf("\n");
    return 0;
}

static int cmd_rlimits(int argc, char **argv) {
    (void)argc; (void)argv;
    static const struct { const char *name; int resource; } LIMITS[] = {
        {"as", RLIMIT_AS}, {"core", RLIMIT_CORE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA},
        {"fsize", RLIMIT_FSIZE}, {"locks", RLIMIT_LOCKS}, {"memlock", RLIMIT_MEMLOCK},
        {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE},
        {"nproc", RLIMIT_NPROC}, {"rss", RLIMIT_RSS}, {"rtprio", RLIMIT_RTPRIO},
        {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING}, {"stack", RLIMIT_STACK},
    };
    for (size_t i = 0; i < sizeof LIMITS / sizeof LIMITS[0]; i++) {
        struct rlimit rl;
        getrlimit(LIMITS[i].resource, &rl);
        printf("%s %lld %lld\n", LIMITS[i].name,
               rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur,
               rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
    }
    return 0;
}

/* "name inode" for every namespace of this process */
static int cmd_ns(int argc, char **argv) {
    (void)argc; (void)argv;
    struct dirent **names;
    int n = scandir("/proc/self/ns", &names, NULL, alphasort);
    if (n < 0) return 1;
    for (int i = 0; i < n; i++) {
        char path[300];
        struct stat st;
        snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0)
            printf("%s %lu\n", names[i]->d_name, (unsigned long)st.st_ino);
        free(names[i]);
    }
    free(names);
    return 0;
}

/* "pid fd target" for every open descriptor of each pid ("self" is this process),
 * leaving out the descriptor used to list them */
static int cmd_fds(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        char dir[64], path[384], target[512];
        snprintf(dir, sizeof dir, "/proc/%s/fd", argv[i]);
        DIR *d = opendir(dir);
        if (!d) { result(dir, 0); continue; }
        int own = dirfd(d);
        int is_self = !strcmp(argv[i], "self") || atoi(argv[i]) == getpid();
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || (is_self && atoi(e->d_name) == own)) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            ssize_t len = readlink(path, target, sizeof target - 1);
            target[len < 0 ? 0 : len] = 0;
            printf("%s %s %s\n", argv[i], e->d_name, target);
        }
        closedir(d);
    }
    return 0;
}

static int cmd_cwd(int argc, char **argv) {
    (void)argc; (void)argv;
    char buf[4096];
    const char *links[] = {"/proc/self/cwd", "/proc/self/root", "/proc/1/cwd", "/proc/1/root"};
    printf("getcwd %s\n", getcwd(buf, sizeof buf) ? buf : err(errno));
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        ssize_t len = readlink(links[i], buf, sizeof buf - 1);
        printf("%s %s\n", links[i], len < 0 ? err(errno) : (buf[len] = 0, buf));
    }
    return 0;
}

/* "pid path dev:ino" for the executable of every process this one can see */
static int cmd_exes(int argc, char **argv) {
    (void)argc; (void)argv;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], target[512];
        struct stat st;
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len < 0 ? 0 : len] = 0;
        if (stat(path, &st) == 0)
            printf("%s %s %lu:%lu\n", e->d_name, target, (unsigned long)st.st_dev,
                   (unsigned long)st.st_ino);
        else printf("%s %s %s\n", e->d_name, target, err(errno));
    }
    if (d) closedir(d);
    return 0;
}

/* ---- resources ----------------------------------------------------------------------- */

/* fork children that wait, until fork fails or max is reached; then end them */
static int cmd_forkbomb(int argc, char **argv) {
    int max = argc > 0 ? atoi(argv[0]) : 1000, n = 0, e = 0;
    pid_t *pids = calloc(max, sizeof *pids);
    while (n < max) {
        pid_t pid = fork();
        if (pid < 0) { e = errno; break; }
        if (pid == 0) { pause(); _exit(0); }
        pids[n++] = pid;
    }
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
    printf("forkbomb: %s after %d\n", e ? err(e) : "OK", n);
    return 0;
}

/* allocate and touch MiB after MiB; an OOM kill ends it before the last line */
static int cmd_alloc(int argc, char **argv) {
    int mib = argc > 0 ? atoi(argv[0]) : 256;
    for (int i = 0; i < mib; i++) {
        char *p = malloc(1 << 20);
        if (!p) { result("malloc", 0); return 1; }
        memset(p, i + 1, 1 << 20);
    }
    printf("allocated %d MiB\n", mib);
    return 0;
}

static long long usage_ns(void) {  /* this cgroup's CPU time: v1 cpuacct, else v2 cpu.stat */
    long long v = -1;
    FILE *f = fopen("/sys/fs/cgroup/cpuacct/cpuacct.usage", "r");
    if (f) {
        if (fscanf(f, "%lld", &v) != 1) v = -1;
        fclose(f);
        return v;
    }
    char key[64];
    f = fopen("/sys/fs/cgroup/cpu.stat", "r");
    while (f && fscanf(f, "%63s %lld", key, &v) == 2)
        if (!strcmp(key, "usage_usec")) { fclose(f); return v * 1000; }
    if (f) fclose(f);
    return -1;
}

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* N workers spinning for S seconds of wall time; prints the cgroup's CPU time used */
static int cmd_cpuburn(int argc, char **argv) {
    double seconds = argc > 0 ? atof(argv[0]) : 2;
    int workers = argc > 1 ? atoi(argv[1]) : 2;
    long long usage0 = usage_ns(), t0 = mono_ns(), end = t0 + (long long)(seconds * 1e9);
    for (int i = 0; i < workers; i++)
        if (fork() == 0) {
            volatile unsigned long x = 0;
            while (mono_ns() < end) x++;
            _exit(0);
        }
    while (wait(NULL) > 0) {}
    printf("cpuburn: usage_ns %lld wall_ns %lld\n", usage_ns() - usage0, mono_ns() - t0);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const struct { const char *name; int (*run)(int, char **); } COMMANDS[] = {
    {"syscall", cmd_syscall}, {"cat", cmd_cat}, {"read", cmd_read},
    {"open-write", cmd_open_write}, {"mkdir", cmd_mkdir}, {"dev", cmd_dev},
    {"mknod-open", cmd_mknod_open}, {"status", cmd_status}, {"ids", cmd_ids},
    {"rlimits", cmd_rlimits}, {"ns", cmd_ns}, {"fds", cmd_fds}, {"cwd", cmd_cwd},
    {"exes", cmd_exes}, {"forkbomb", cmd_forkbomb}, {"alloc", cmd_alloc},
    {"cpuburn", cmd_cpuburn},
};

int main(int argc, char **argv) {
    int rc = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc;) {
        int end = i;
        while (end < argc && strcmp(argv[end], "--")) end++;
        int found = 0;
        for (size_t j = 0; j < sizeof COMMANDS / sizeof COMMANDS[0]; j++)
            if (!strcmp(COMMANDS[j].name, argv[i])) {
                found = 1;
                rc |= COMMANDS[j].run(end - i - 1, argv + i + 1);
            }
        if (!found) {
            fprintf(stderr, "probe: unknown command %s\n", argv[i]);
            return 2;
        }
        if (end < argc) printf("--\n");
        i = end + 1;
    }
    return rc;
}
