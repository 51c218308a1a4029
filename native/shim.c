/*
 * vigil native shim: the few system calls Node has no API for, in plain C over node_api.h (NAPI_VERSION 8)
 * plus uv.h for one uv_poll helper. No V8 headers, so one build serves Node 20/22/24.
 *
 * Why: vigil reaps every child with waitpid(-1) (as PID 1 or a subreaper), so it cannot use child_process;
 * fork -> execve must run async-signal-safe C; OFD locks, prctl, reboot, mount and pidfd have no Node API.
 * The typed interface is src/sys/native.ts. Errors are thrown as Error with code/errno(negative)/syscall,
 * like Node's ErrnoException; read/write/kill return a negative errno instead of throwing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/kd.h>

#include <node_api.h>
#include <uv.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

#define CHECK(call)                                                                                            \
  do {                                                                                                         \
    if ((call) != napi_ok) return NULL;                                                                        \
  } while (0)

/* ------------------------------------------------------------------------------------------------------------
 * errors
 */

/* The errno's name from libuv's table, as Node's util.getSystemErrorName (src/sys/errors.ts) gives it: one table
 * for both sides, and no strerrorname_np (glibc 2.32+ only, absent from musl: prebuilds must load on either). */
static const char *errname(int err, char *buf, size_t len) {
  return uv_err_name_r(-err, buf, len);
}

/* Build an Error like Node's ErrnoException: "CODE: strerror, syscall 'path'" with code, errno, syscall, path. */
static napi_value make_errno_error(napi_env env, int err, const char *code, const char *desc, const char *syscall,
                                   const char *path) {
  char msg[1024];
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code, desc, syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", code, desc, syscall);
  napi_value m, e, v;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, m, &e) != napi_ok) return NULL;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "code", v);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "path", v);
  }
  return e;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  char name[64];
  napi_value e = make_errno_error(env, err, errname(err, name, sizeof name), strerror(err), syscall, path);
  if (e) napi_throw(env, e);
  return NULL;
}

/* libuv errors are negated errnos on Unix, but use libuv's own names/messages */
static napi_value throw_uv(napi_env env, int uverr, const char *syscall) {
  napi_value e = make_errno_error(env, -uverr, uv_err_name(uverr), uv_strerror(uverr), syscall, NULL);
  if (e) napi_throw(env, e);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* ------------------------------------------------------------------------------------------------------------
 * argument helpers: each returns 0 on success, -1 with a pending TypeError
 */

static int arg_int32(napi_env env, napi_value v, int32_t *out, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return -1;
  }
  napi_get_value_int32(env, v, out);
  return 0;
}

static int arg_int64(napi_env env, napi_value v, int64_t *out, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return -1;
  }
  napi_get_value_int64(env, v, out);
  return 0;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (v == NULL) return 1;
  if (napi_typeof(env, v, &t) != napi_ok) return 1;
  return t == napi_undefined || t == napi_null;
}

static int arg_bool_opt(napi_env env, napi_value v, int dflt) {
  bool b;
  if (is_nullish(env, v)) return dflt;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    napi_value c;
    if (napi_coerce_to_bool(env, v, &c) != napi_ok || napi_get_value_bool(env, c, &b) != napi_ok) return dflt;
  }
  return b ? 1 : 0;
}

/* malloc'd NUL-terminated copy of a JS string; rejects embedded NULs */
static char *arg_string(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  size_t len = 0;
  char msg[160];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (!s) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    snprintf(msg, sizeof msg, "%s must not contain null bytes", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return s;
}

/* string or null/undefined -> *out (NULL for nullish); 0 ok, -1 thrown */
static int arg_string_opt(napi_env env, napi_value v, char **out, const char *what) {
  *out = NULL;
  if (is_nullish(env, v)) return 0;
  *out = arg_string(env, v, what);
  return *out ? 0 : -1;
}

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* JS string[] -> malloc'd NULL-terminated char*[] */
static char **arg_strv(napi_env env, napi_value v, const char *what) {
  bool isarr = false;
  uint32_t n = 0;
  char msg[160];
  if (napi_is_array(env, v, &isarr) != napi_ok || !isarr) {
    snprintf(msg, sizeof msg, "%s must be an array of strings", what);
    throw_type(env, msg);
    return NULL;
  }
  napi_get_array_length(env, v, &n);
  char **r = calloc((size_t)n + 1, sizeof(char *));
  if (!r) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || !(r[i] = arg_string(env, e, what))) {
      free_strv(r);
      return NULL;
    }
  }
  return r;
}

/* (number|null)[] -> malloc'd int[]; null/undefined -> -1 */
static int *arg_fdv(napi_env env, napi_value v, uint32_t *count, const char *what) {
  bool isarr = false;
  char msg[160];
  if (napi_is_array(env, v, &isarr) != napi_ok || !isarr) {
    snprintf(msg, sizeof msg, "%s must be an array of fds", what);
    throw_type(env, msg);
    return NULL;
  }
  napi_get_array_length(env, v, count);
  int *r = malloc(sizeof(int) * ((size_t)*count + 1));
  if (!r) {
    throw_errno(env, ENOMEM, "malloc", NULL);
    return NULL;
  }
  for (uint32_t i = 0; i < *count; i++) {
    napi_value e;
    int32_t fd = -1;
    napi_get_element(env, v, i, &e);
    if (!is_nullish(env, e) && arg_int32(env, e, &fd, what) < 0) {
      free(r);
      return NULL;
    }
    r[i] = fd < 0 ? -1 : fd;
  }
  return r;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  napi_value undef;
  napi_get_undefined(env, &undef);
  for (size_t i = argc; i < want; i++) argv[i] = undef;
  return 0;
}

static napi_value get_prop(napi_env env, napi_value obj, const char *name) {
  napi_value v = NULL;
  bool has = false;
  if (is_nullish(env, obj)) return NULL;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return NULL;
  napi_get_named_property(env, obj, name, &v);
  return v;
}

static napi_value js_undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value js_int(napi_env env, int64_t x) {
  napi_value v;
  napi_create_int64(env, x, &v);
  return v;
}

static napi_value js_bool(napi_env env, int b) {
  napi_value v;
  napi_get_boolean(env, b != 0, &v);
  return v;
}

/* ------------------------------------------------------------------------------------------------------------
 * spawn
 */

enum stage {
  ST_OK = 0,
  ST_BLOCKING, /* "about to block (fifo open, lock wait)": spawn returns success */
  ST_SIGNALS,
  ST_SETSID,
  ST_SETPGID,
  ST_DUP2,
  ST_CLOSE_RANGE,
  ST_CHDIR,
  ST_SETGROUPS,
  ST_SETGID,
  ST_SETUID,
  ST_FIFO,
  ST_EXECVE,
};

static const char *stage_name(int s) {
  switch (s) {
    case ST_SIGNALS: return "signals";
    case ST_SETSID: return "setsid";
    case ST_SETPGID: return "setpgid";
    case ST_DUP2: return "dup2";
    case ST_CLOSE_RANGE: return "close_range";
    case ST_CHDIR: return "chdir";
    case ST_SETGROUPS: return "setgroups";
    case ST_SETGID: return "setgid";
    case ST_SETUID: return "setuid";
    case ST_FIFO: return "fifo";
    case ST_EXECVE: return "execve";
    default: return "unknown";
  }
}

struct spawn_rec {
  int32_t stage;
  int32_t err;
};

struct spawn_req {
  char *file;
  char **argv;
  char **envp;
  int *fdmap;
  uint32_t nfd;
  char *cwd;
  char *fifo;
  int *fifofds;
  uint32_t nfifofds;
  int do_setsid;
  int reset_signals;
  int have_pgid;
  int32_t pgid;
  int have_uid, have_gid;
  int32_t uid, gid;
  int32_t fg_fd; /* -1, or the child fd (after the fd map) of a terminal whose foreground group it takes */
  int fifo_reader_held; /* the caller holds a read end of `fifo`: the child's blocking open cannot wait */
  /* child fd to take an OFD write lock on, waiting for it, just before exec (-1: none) */
  int32_t lock_wait;
};

static void spawn_req_free(struct spawn_req *r) {
  free(r->file);
  free_strv(r->argv);
  free_strv(r->envp);
  free(r->fdmap);
  free(r->cwd);
  free(r->fifo);
  free(r->fifofds);
}

/*
 * Helpers for the child. The child may share the parent's memory (clone(CLONE_VM|CLONE_VFORK), see Spawn):
 * so it calls no malloc, no JS, and makes the few libc calls that are process-wide or use libc's
 * per-thread state as raw syscalls: glibc's setuid/setgid/setgroups broadcast the change to every thread of
 * the *parent* (the child shares its thread list), and write/close are cancellation points that touch the
 * parent thread's cancel state. errno is written into the parent thread's TLS; the parent does not rely on
 * it across the call, and failures reach it only through the error pipe.
 */
static long child_write(int fd, const void *buf, size_t len) {
  long w;
  do w = syscall(SYS_write, fd, buf, len);
  while (w < 0 && errno == EINTR);
  return w;
}

static void child_close(int fd) {
  syscall(SYS_close, fd);
}

__attribute__((noreturn)) static void child_fail(int ew, int stage, int err) {
  struct spawn_rec rec = {stage, err};
  child_write(ew, &rec, sizeof rec);
  _exit(127);
}

static void child_set_cloexec_from(unsigned int lowfd) {
  if (syscall(SYS_close_range, lowfd, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  /* kernel < 5.11: mark every possible fd by hand */
  struct rlimit rl;
  unsigned long max = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) max = rl.rlim_cur;
  for (unsigned long fd = lowfd; fd < max; fd++) {
    int fl = fcntl((int)fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC)) fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
  }
}

/* Runs in the child (forked, or cloned sharing our memory): only async-signal-safe calls, no malloc, no JS,
 * writes only to its own stack. Never returns: execve or _exit(127). */
__attribute__((noreturn)) static void spawn_child(const struct spawn_req *r, int ew_in) {
  int n = (int)r->nfd;
  int low = n < 3 ? 3 : n;
  int ew;

  /* 1. dispositions back to default while every signal is still blocked */
  for (int sig = 1; sig < _NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction old;
    if (sigaction(sig, NULL, &old) < 0) continue; /* glibc-reserved signals */
    if (old.sa_handler == SIG_DFL) continue;
    if (!r->reset_signals && old.sa_handler == SIG_IGN) continue;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
  }

  /* the error pipe must survive the fd map: move it above every target */
  ew = fcntl(ew_in, F_DUPFD_CLOEXEC, low);
  if (ew < 0) child_fail(ew_in, ST_DUP2, errno);

  /* 2. session / process group */
  if (r->do_setsid) {
    if (setsid() < 0) child_fail(ew, ST_SETSID, errno);
  } else if (r->have_pgid) {
    if (setpgid(0, r->pgid) < 0) child_fail(ew, ST_SETPGID, errno);
  }

  /* 3. fd map: copy every source above n first (permutations are safe), then dup2 onto its slot */
  int tmp[n > 0 ? n : 1];
  for (int i = 0; i < n; i++) {
    tmp[i] = -1;
    if (r->fdmap[i] >= 0) {
      tmp[i] = fcntl(r->fdmap[i], F_DUPFD_CLOEXEC, low);
      if (tmp[i] < 0) child_fail(ew, ST_DUP2, errno);
    }
  }
  for (int i = 0; i < n; i++) {
    if (tmp[i] >= 0) {
      int d;
      do d = dup2(tmp[i], i);
      while (d < 0 && (errno == EINTR || errno == EBUSY));
      if (d < 0) child_fail(ew, ST_DUP2, errno);
    } else {
      child_close(i);
    }
  }
  /* 3b. the terminal: make our own process group its foreground group (tini's isolate_child). Done here, in
   * the child, so the program owns the terminal before its first read (done from the parent after spawn, a
   * shell could read first, get SIGTTIN and stop). Every signal is still blocked, so the kernel lets a
   * background member do it instead of sending SIGTTOU. Errors are ignored: a terminal that is not our
   * controlling one (ENOTTY) just means no job control; the parent checks with tcgetpgrp. */
  if (r->fg_fd >= 0) {
    pid_t me = (pid_t)syscall(SYS_getpid);
    ioctl(r->fg_fd, TIOCSPGRP, &me);
  }

  /* 4. everything else closes at execve (ew and the tmp copies included) */
  child_set_cloexec_from((unsigned int)n);

  /* 5. working directory, then credentials */
  if (r->cwd && chdir(r->cwd) < 0) child_fail(ew, ST_CHDIR, errno);
  if ((r->have_gid || r->have_uid) && geteuid() == 0) {
    gid_t g = r->have_gid ? (gid_t)r->gid : getegid();
    if (syscall(SYS_setgroups, 1, &g) < 0) child_fail(ew, ST_SETGROUPS, errno);
  }
  if (r->have_gid && syscall(SYS_setgid, (gid_t)r->gid) < 0) child_fail(ew, ST_SETGID, errno);
  if (r->have_uid && syscall(SYS_setuid, (uid_t)r->uid) < 0) child_fail(ew, ST_SETUID, errno);

  /* 6. steps that may block (forked child only): tell the parent we are past every checkable step, then
   * block. First stage 2's blocking fifo open, */
  if (r->fifo || r->lock_wait >= 0) {
    struct spawn_rec rec = {ST_BLOCKING, 0};
    child_write(ew, &rec, sizeof rec);
    child_close(ew);
    ew = -1;
  }
  if (r->fifo) {
    int fd;
    do fd = open(r->fifo, O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) _exit(127);
    int keep = 0;
    for (uint32_t i = 0; i < r->nfifofds; i++) {
      int t = r->fifofds[i];
      if (t < 0) continue;
      if (t == fd) {
        if (fcntl(fd, F_SETFD, 0) < 0) _exit(127);
        keep = 1;
      } else {
        int d;
        do d = dup2(fd, t);
        while (d < 0 && (errno == EINTR || errno == EBUSY));
        if (d < 0) _exit(127);
      }
    }
    if (!keep) child_close(fd);
  }
  /* then lock-fd's lock, held by another process: wait for it (s6-supervise's "child will block") */
  if (r->lock_wait >= 0) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    int l;
    do l = fcntl(r->lock_wait, F_OFD_SETLKW, &fl);
    while (l < 0 && errno == EINTR);
    if (l < 0) _exit(127);
  }

  /* 7. empty signal mask (s6's run starts with one), exec */
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, NULL);
  execve(r->file, r->argv, r->envp);
  if (ew >= 0) child_fail(ew, ST_EXECVE, errno);
  _exit(127);
}

struct clone_arg {
  const struct spawn_req *r;
  int ew;
};

static int spawn_child_cloned(void *p) {
  const struct clone_arg *a = p;
  spawn_child(a->r, a->ew); /* never returns */
}

/*
 * Create the child the way glibc's posix_spawn does: clone(CLONE_VM|CLONE_VFORK) on a stack of its own.
 * No page-table copy (a fork of a 50-80 MB Node costs 12-14 ms here, this ~1 ms); we are suspended until the
 * child has execve'd or _exit'ed, so the error pipe is ready to read when clone returns. Without
 * CLONE_SIGHAND the child has its own copy of the disposition table (clone(2)), so it may reset it; without
 * CLONE_FILES its own fd table; without CLONE_THREAD its own thread group (its _exit is exit_group of itself).
 * Returns the pid, or -1 with errno set.
 */
static pid_t spawn_clone(const struct spawn_req *r, int ew) {
  long pg = sysconf(_SC_PAGESIZE);
  size_t page = pg > 0 ? (size_t)pg : 4096;
  /* 64 KiB for the child's frames plus its fd-map scratch array (a VLA of nfd ints), page-rounded */
  size_t size = ((size_t)64 * 1024 + (size_t)r->nfd * sizeof(int) + page - 1) & ~(page - 1);
  char *base = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (base == MAP_FAILED) return -1;
  if (mprotect(base, page, PROT_NONE) < 0) { /* guard page below the stack (it grows down) */
    int e = errno;
    munmap(base, size + page);
    errno = e;
    return -1;
  }
  struct clone_arg a = {r, ew};
  pid_t pid = clone(spawn_child_cloned, base + page + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  int e = errno; /* meaningful only when pid < 0 (then the child never ran) */
  munmap(base, size + page);
  errno = e;
  return pid;
}

static int parse_spawn_opts(napi_env env, napi_value o, struct spawn_req *r) {
  napi_value v;
  r->fg_fd = -1;
  r->do_setsid = arg_bool_opt(env, get_prop(env, o, "setsid"), 1);
  if ((v = get_prop(env, o, "foreground")) && !is_nullish(env, v)) {
    if (arg_int32(env, v, &r->fg_fd, "opts.foreground") < 0) return -1;
  }
  r->reset_signals = arg_bool_opt(env, get_prop(env, o, "resetSignals"), 1);
  if ((v = get_prop(env, o, "cwd")) && arg_string_opt(env, v, &r->cwd, "opts.cwd") < 0) return -1;
  if ((v = get_prop(env, o, "fifoWrite")) && arg_string_opt(env, v, &r->fifo, "opts.fifoWrite") < 0) return -1;
  r->fifo_reader_held = arg_bool_opt(env, get_prop(env, o, "fifoReaderHeld"), 0);
  if ((v = get_prop(env, o, "fifoFds")) && !is_nullish(env, v)) {
    if (!(r->fifofds = arg_fdv(env, v, &r->nfifofds, "opts.fifoFds"))) return -1;
  } else if (r->fifo) {
    r->fifofds = malloc(2 * sizeof(int));
    if (!r->fifofds) return -1;
    r->fifofds[0] = 1;
    r->fifofds[1] = 2;
    r->nfifofds = 2;
  }
  if ((v = get_prop(env, o, "pgid")) && !is_nullish(env, v)) {
    if (arg_int32(env, v, &r->pgid, "opts.pgid") < 0) return -1;
    r->have_pgid = 1;
  }
  if ((v = get_prop(env, o, "uid")) && !is_nullish(env, v)) {
    if (arg_int32(env, v, &r->uid, "opts.uid") < 0) return -1;
    r->have_uid = 1;
  }
  if ((v = get_prop(env, o, "gid")) && !is_nullish(env, v)) {
    if (arg_int32(env, v, &r->gid, "opts.gid") < 0) return -1;
    r->have_gid = 1;
  }
  r->lock_wait = -1;
  if ((v = get_prop(env, o, "lockWait")) && !is_nullish(env, v)) {
    if (arg_int32(env, v, &r->lock_wait, "opts.lockWait") < 0) return -1;
    if (r->lock_wait < 0 || (uint32_t)r->lock_wait >= r->nfd) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "spawn: opts.lockWait must be a child fd of the fdmap");
      return -1;
    }
  }
  return 0;
}

static napi_value throw_spawn(napi_env env, int err, int stage, const char *file) {
  char desc[512], name[64];
  snprintf(desc, sizeof desc, "%s (%s)", strerror(err), stage_name(stage));
  napi_value e = make_errno_error(env, err, errname(err, name, sizeof name), desc, "spawn", file);
  if (!e) return NULL;
  napi_value v;
  napi_create_string_utf8(env, stage_name(stage), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "stage", v);
  napi_throw(env, e);
  return NULL;
}

static void cw_kick(void);
static void wd_busy(void);

static napi_value Spawn(napi_env env, napi_callback_info info) {
  napi_value a[5];
  struct spawn_req r;
  napi_value ret = NULL;
  memset(&r, 0, sizeof r);
  CHECK(get_args(env, info, 5, a));
  if (!(r.file = arg_string(env, a[0], "file"))) goto out;
  if (!strchr(r.file, '/')) {
    /* no PATH search in the child: a bare name is a caller bug (search in TS, or say ./name) */
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "spawn: file must be an absolute path or contain a '/' (no PATH search)");
    goto out;
  }
  if (!(r.argv = arg_strv(env, a[1], "argv"))) goto out;
  if (!(r.envp = arg_strv(env, a[2], "envp"))) goto out;
  if (!(r.fdmap = arg_fdv(env, a[3], &r.nfd, "fdmap"))) goto out;
  if (parse_spawn_opts(env, a[4], &r) < 0) goto out;

  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) {
    throw_errno(env, errno, "pipe2", NULL);
    goto out;
  }
  sigset_t all, old;
  sigfillset(&all);
  /* sigprocmask, not pthread_sigmask: on Linux both change the calling thread's mask only (glibc and musl), and
   * glibc 2.32 moved pthread_sigmask into libc under a new symbol version, which would raise the prebuilt
   * binaries' glibc floor above Node's own (2.28). */
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid;
  int forked = (r.fifo && !r.fifo_reader_held) || r.lock_wait >= 0;
  if (forked) {
    /* this child blocks (in open() until a reader comes, or on lock-fd's lock): a vfork'd parent would be
     * suspended meanwhile (with fifoReaderHeld the caller holds a reader, so the open returns at once: the
     * clone path is safe) */
    pid = fork();
    if (pid == 0) spawn_child(&r, ep[1]); /* never returns */
  } else {
    pid = spawn_clone(&r, ep[1]);
  }
  int forkerr = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(ep[1]);
  if (pid < 0) {
    close(ep[0]);
    throw_errno(env, forkerr, forked ? "fork" : "clone", NULL);
    goto out;
  }
  struct spawn_rec rec;
  ssize_t got;
  do got = read(ep[0], &rec, sizeof rec);
  while (got < 0 && errno == EINTR);
  close(ep[0]);
  if (got == (ssize_t)sizeof rec && rec.stage != ST_BLOCKING) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    throw_spawn(env, rec.err, rec.stage, r.file);
    goto out;
  }
  ret = js_int(env, pid);
  cw_kick(); /* a child exists: the child watcher may leave its no-child wait */
out:
  spawn_req_free(&r);
  return ret;
}

/* ------------------------------------------------------------------------------------------------------------
 * processes
 */

static napi_value reap_result(napi_env env, pid_t pid, int status) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "pid", js_int(env, pid));
  napi_set_named_property(env, o, "status", js_int(env, status));
  return o;
}

/*
 * The child watcher: a wake-up for the reaper that does not depend on signal delivery.
 *
 * The reaper used to run only when a SIGCHLD made it to JS: the kernel sets one pending bit per process
 * (further deaths while it is set add nothing), some thread of the process takes it (any of Node's threads
 * that does not block it), libuv's handler takes a lock pipe and writes to the loop's signal pipe, the loop
 * reads it and Node emits 'SIGCHLD'. Every zombie then depends on that chain delivering an edge after its
 * death, and on nothing in the process (a stalled loop, an fd of those pipes closed or full, a handler reset
 * to SIG_DFL — which makes PID 1 drop SIGCHLD outright) breaking it. The watcher is level-triggered on the
 * state itself: one thread (every signal blocked) sits in waitid(P_ALL, WEXITED | WNOWAIT | __WALL), which
 * returns while ANY child is a zombie, without reaping it; it asks the loop for a drain (uv_async_send) and
 * waits until a Reap() that started after the request has run — that Reap's waitpid loop began after the
 * zombie existed, so it took it (or somebody else did). Then it waits again. So while the loop runs, no zombie
 * can stay, whatever happened to the signals, and idle costs no wake-up: the thread sleeps in waitid (or, with
 * no child at all, on a condition variable until a spawn or a reap says a child may exist again — a child
 * re-parented to us then announces itself by SIGCHLD, the old path, which stays as a second wake-up).
 */
static struct {
  uv_mutex_t mu; /* libuv's mutex, condition and thread (exported by node): glibc's pthread_* symbols moved
                    into libc under GLIBC_2.34 versions, above the prebuilt shims' 2.28 floor */
  uv_cond_t cv;
  unsigned long requested; /* the watcher's drain requests (one per zombie sighting) */
  unsigned long served;    /* the newest request a Reap() started after */
  unsigned long kicks;     /* bumped by Reap() and Spawn(): with no child, try waitid again */
  int started, closing, sync_ready;
  uv_async_t async;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
} cw;

static void cw_kick(void) {
  if (!cw.started) return;
  uv_mutex_lock(&cw.mu);
  cw.kicks++;
  uv_cond_broadcast(&cw.cv);
  uv_mutex_unlock(&cw.mu);
}

static void cw_thread(void *arg) {
  (void)arg;
  for (;;) {
    uv_mutex_lock(&cw.mu);
    unsigned long k0 = cw.kicks;
    uv_mutex_unlock(&cw.mu);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | __WALL);
    int err = errno;
    uv_mutex_lock(&cw.mu);
    if (r == 0 && si.si_pid != 0) {
      unsigned long req = ++cw.requested;
      if (!cw.closing) uv_async_send(&cw.async);
      while (cw.served < req && !cw.closing) uv_cond_wait(&cw.cv, &cw.mu);
    } else if (r < 0 && err == ECHILD) {
      while (cw.kicks == k0 && !cw.closing) uv_cond_wait(&cw.cv, &cw.mu);
    }
    int stop = cw.closing;
    uv_mutex_unlock(&cw.mu);
    if (stop) return;
  }
}

static void cw_async_cb(uv_async_t *h) {
  (void)h;
  wd_busy();
  napi_env env = cw.env;
  napi_handle_scope scope;
  napi_value cb, recv, result;
  if (!cw.cb || napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, cw.cb, &cb) == napi_ok && cb) {
    napi_get_global(env, &recv);
    if (napi_make_callback(env, cw.actx, recv, cb, 0, NULL, &result) == napi_pending_exception) {
      napi_value ex;
      if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void cw_cleanup(void *arg) {
  (void)arg;
  uv_mutex_lock(&cw.mu);
  cw.closing = 1;
  uv_cond_broadcast(&cw.cv);
  uv_mutex_unlock(&cw.mu);
  uv_close((uv_handle_t *)&cw.async, NULL);
}

/* watchChildren(cb): start the watcher (once per process; a second call only replaces cb). true if running. */
static napi_value WatchChildren(napi_env env, napi_callback_info info) {
  napi_value a[1], name;
  napi_valuetype t;
  uv_loop_t *loop;
  CHECK(get_args(env, info, 1, a));
  if (napi_typeof(env, a[0], &t) != napi_ok || t != napi_function) return throw_type(env, "cb must be a function");
  if (cw.started) {
    napi_delete_reference(env, cw.cb);
    CHECK(napi_create_reference(env, a[0], 1, &cw.cb));
    return js_bool(env, 1);
  }
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (!cw.sync_ready) { /* once: a watcher that failed to start leaves them for the next try */
    if (uv_mutex_init(&cw.mu) < 0) return js_bool(env, 0);
    if (uv_cond_init(&cw.cv) < 0) {
      uv_mutex_destroy(&cw.mu);
      return js_bool(env, 0);
    }
    cw.sync_ready = 1;
  }
  if (uv_async_init(loop, &cw.async, cw_async_cb) < 0) return js_bool(env, 0);
  uv_unref((uv_handle_t *)&cw.async); /* never keeps the process alive */
  cw.env = env;
  napi_create_string_utf8(env, "vigil.children", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_reference(env, a[0], 1, &cw.cb));
  CHECK(napi_async_init(env, NULL, name, &cw.actx));
  uv_thread_options_t opts = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = 64 * 1024};
  /* the thread starts with every signal blocked (a new thread inherits its creator's mask; sigprocmask for
   * the symbol-version reason at Spawn): it never takes a signal meant for the loop */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  uv_thread_t th;
  int rc = uv_thread_create_ex(&th, &opts, cw_thread, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    uv_close((uv_handle_t *)&cw.async, NULL);
    return js_bool(env, 0);
  }
  cw.started = 1;
  napi_add_env_cleanup_hook(env, cw_cleanup, NULL);
  return js_bool(env, 1);
}

static napi_value Reap(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr;
  uint32_t i = 0;
  CHECK(napi_create_array(env, &arr));
  /* every watcher request made before this point is served by the loop below (see the child watcher) */
  unsigned long start = 0;
  if (cw.started) {
    uv_mutex_lock(&cw.mu);
    start = cw.requested;
    uv_mutex_unlock(&cw.mu);
  }
  for (;;) {
    int st;
    /* __WALL: every child, also one that reports with a signal other than SIGCHLD (waitid above sees those) */
    pid_t p = waitpid(-1, &st, WNOHANG | __WALL);
    if (p > 0) {
      napi_set_element(env, arr, i++, reap_result(env, p, st));
      continue;
    }
    if (p == 0) break;
    if (errno == EINTR) continue;
    if (errno == ECHILD) break;
    return throw_errno(env, errno, "waitpid", NULL);
  }
  if (cw.started) {
    uv_mutex_lock(&cw.mu);
    if (cw.served < start) cw.served = start;
    cw.kicks++;
    uv_cond_broadcast(&cw.cv);
    uv_mutex_unlock(&cw.mu);
  }
  return arr;
}

static napi_value Waitpid(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t pid;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &pid, "pid") < 0) return NULL;
  for (;;) {
    int st;
    pid_t p = waitpid(pid, &st, WNOHANG);
    if (p > 0) return reap_result(env, p, st);
    if (p == 0) {
      napi_value n;
      napi_get_null(env, &n);
      return n;
    }
    if (errno != EINTR) return throw_errno(env, errno, "waitpid", NULL);
  }
}

/* hasChildren(): does this process have any child left, alive or not yet reaped? waitid(P_ALL, WNOHANG|WNOWAIT)
 * fails with ECHILD only when there is none; it reaps nothing. As PID 1 or a subreaper, once the reaper has
 * collected every dead child this says whether any process of our tree is left (orphans come back to us
 * before their parent's death is reported). */
static napi_value HasChildren(napi_env env, napi_callback_info info) {
  (void)info;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == ECHILD) return js_bool(env, 0);
    return throw_errno(env, errno, "waitid", NULL);
  }
  return js_bool(env, 1);
}

static napi_value Execve(napi_env env, napi_callback_info info) {
  napi_value a[3];
  char *file = NULL, **argv = NULL, **envp = NULL;
  CHECK(get_args(env, info, 3, a));
  if ((file = arg_string(env, a[0], "file")) && (argv = arg_strv(env, a[1], "argv")) &&
      (envp = arg_strv(env, a[2], "envp"))) {
    execve(file, argv, envp);
    throw_errno(env, errno, "execve", file);
  }
  free(file);
  free_strv(argv);
  free_strv(envp);
  return NULL;
}

static napi_value Kill(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t pid, sig;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &pid, "pid") < 0 || arg_int32(env, a[1], &sig, "sig") < 0) return NULL;
  return js_int(env, kill(pid, sig) < 0 ? -errno : 0);
}

static napi_value Setsid(napi_env env, napi_callback_info info) {
  (void)info;
  pid_t s = setsid();
  if (s < 0) return throw_errno(env, errno, "setsid", NULL);
  return js_int(env, s);
}

static napi_value SetSubreaper(napi_env env, napi_callback_info info) {
  napi_value a[1];
  CHECK(get_args(env, info, 1, a));
  if (prctl(PR_SET_CHILD_SUBREAPER, (unsigned long)arg_bool_opt(env, a[0], 1), 0, 0, 0) < 0)
    return throw_errno(env, errno, "prctl", NULL);
  return js_undefined(env);
}

static napi_value GetSubreaper(napi_env env, napi_callback_info info) {
  (void)info;
  int on = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&on, 0, 0, 0) < 0) return throw_errno(env, errno, "prctl", NULL);
  return js_bool(env, on);
}

static napi_value SetProcessName(napi_env env, napi_callback_info info) {
  napi_value a[1];
  CHECK(get_args(env, info, 1, a));
  char *name = arg_string(env, a[0], "name");
  if (!name) return NULL;
  int rc = prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
  int err = errno;
  free(name);
  if (rc < 0) return throw_errno(env, err, "prctl", NULL);
  return js_undefined(env);
}

static napi_value PidfdOpen(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t pid;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &pid, "pid") < 0) return NULL;
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return throw_errno(env, errno, "pidfd_open", NULL);
  return js_int(env, fd);
}

static napi_value PidfdSendSignal(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd, sig;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "pidfd") < 0 || arg_int32(env, a[1], &sig, "sig") < 0) return NULL;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return throw_errno(env, errno, "pidfd_send_signal", NULL);
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------------------
 * file descriptors
 */

static napi_value Mkfifo(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t mode;
  CHECK(get_args(env, info, 2, a));
  char *p = arg_string(env, a[0], "path");
  if (!p) return NULL;
  if (arg_int32(env, a[1], &mode, "mode") < 0) {
    free(p);
    return NULL;
  }
  napi_value r = js_undefined(env);
  if (mkfifo(p, (mode_t)mode) < 0) r = throw_errno(env, errno, "mkfifo", p);
  free(p);
  return r;
}

static napi_value Pipe(napi_env env, napi_callback_info info) {
  napi_value a[1], arr;
  int fds[2];
  CHECK(get_args(env, info, 1, a));
  int flags = O_CLOEXEC | (arg_bool_opt(env, a[0], 0) ? O_NONBLOCK : 0);
  if (pipe2(fds, flags) < 0) return throw_errno(env, errno, "pipe2", NULL);
  CHECK(napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, js_int(env, fds[0]));
  napi_set_element(env, arr, 1, js_int(env, fds[1]));
  return arr;
}

static napi_value Dup2(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t o, n;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &o, "oldfd") < 0 || arg_int32(env, a[1], &n, "newfd") < 0) return NULL;
  int r;
  do r = dup2(o, n);
  while (r < 0 && (errno == EINTR || errno == EBUSY));
  if (r < 0) return throw_errno(env, errno, "dup2", NULL);
  return js_int(env, r);
}

static napi_value DupCloexec(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd, min = 0;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  if (!is_nullish(env, a[1]) && arg_int32(env, a[1], &min, "minFd") < 0) return NULL;
  int r = fcntl(fd, F_DUPFD_CLOEXEC, min);
  if (r < 0) return throw_errno(env, errno, "fcntl", NULL);
  return js_int(env, r);
}

static napi_value SetCloexec(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  int on = arg_bool_opt(env, a[1], 1);
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0) return throw_errno(env, errno, "fcntl", NULL);
  int nfl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
  if (nfl != fl && fcntl(fd, F_SETFD, nfl) < 0) return throw_errno(env, errno, "fcntl", NULL);
  return js_undefined(env);
}

static napi_value SetNonblock(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  int on = arg_bool_opt(env, a[1], 1);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return throw_errno(env, errno, "fcntl", NULL);
  int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0) return throw_errno(env, errno, "fcntl", NULL);
  return js_undefined(env);
}

/* (buf, offset, length) -> pointer/len checked against the typed array; returns 0 or -1 (thrown) */
static int buf_range(napi_env env, napi_value buf, napi_value offset, napi_value length, char **ptr, size_t *len) {
  int64_t off, ln;
  bool ista = false;
  if (napi_is_typedarray(env, buf, &ista) != napi_ok || !ista) {
    throw_type(env, "buf must be a Uint8Array");
    return -1;
  }
  napi_typedarray_type tt;
  size_t n, boff;
  void *data;
  napi_value ab;
  napi_get_typedarray_info(env, buf, &tt, &n, &data, &ab, &boff);
  if (tt != napi_uint8_array && tt != napi_uint8_clamped_array && tt != napi_int8_array) {
    throw_type(env, "buf must be a Uint8Array");
    return -1;
  }
  off = 0;
  ln = (int64_t)n;
  if (!is_nullish(env, offset) && arg_int64(env, offset, &off, "offset") < 0) return -1;
  if (!is_nullish(env, length) && arg_int64(env, length, &ln, "length") < 0) return -1;
  if (off < 0 || ln < 0 || (uint64_t)off + (uint64_t)ln > (uint64_t)n) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "offset/length out of the buffer's bounds");
    return -1;
  }
  *ptr = (char *)data + off;
  *len = (size_t)ln;
  return 0;
}

/* (fd, buf, offset, length) -> fd, pointer/len; returns 0 or -1 (thrown) */
static int io_args(napi_env env, napi_callback_info info, int *fd, char **ptr, size_t *len) {
  napi_value a[4];
  int32_t f;
  if (get_args(env, info, 4, a) < 0) return -1;
  if (arg_int32(env, a[0], &f, "fd") < 0) return -1;
  if (buf_range(env, a[1], a[2], a[3], ptr, len) < 0) return -1;
  *fd = f;
  return 0;
}

static napi_value Read(napi_env env, napi_callback_info info) {
  int fd;
  char *p;
  size_t len;
  if (io_args(env, info, &fd, &p, &len) < 0) return NULL;
  ssize_t r;
  do r = read(fd, p, len);
  while (r < 0 && errno == EINTR);
  return js_int(env, r < 0 ? -errno : r);
}

static napi_value Write(napi_env env, napi_callback_info info) {
  int fd;
  char *p;
  size_t len;
  if (io_args(env, info, &fd, &p, &len) < 0) return NULL;
  ssize_t r;
  do r = write(fd, p, len);
  while (r < 0 && errno == EINTR);
  return js_int(env, r < 0 ? -errno : r);
}

/* writeDontwait: as write, but never blocks even on a blocking description: a socket gets
 * send(MSG_DONTWAIT|MSG_NOSIGNAL), which leaves the description's flags alone (a socket cannot be re-opened
 * as a description of one's own, and its other users, e.g. a child's stdout, must stay blocking); anything
 * else gets write (the caller made it non-blocking). Non-throwing: bytes written or a negative errno. */
static napi_value WriteDontwait(napi_env env, napi_callback_info info) {
  int fd;
  char *p;
  size_t len;
  if (io_args(env, info, &fd, &p, &len) < 0) return NULL;
  ssize_t r;
  do r = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno == ENOTSOCK) {
    do r = write(fd, p, len);
    while (r < 0 && errno == EINTR);
  }
  return js_int(env, r < 0 ? -errno : r);
}

/*
 * tee(2): copy up to len bytes from the front of pipe fdIn into pipe fdOut WITHOUT consuming them
 * (SPLICE_F_NONBLOCK). Non-throwing: bytes copied, 0 = fdIn empty with no writer left (EOF), or -errno
 * (-EAGAIN: nothing to copy; -EINVAL: fdIn or fdOut is not a pipe). The logger peeks with it, writes, and only
 * then takes the bytes out of the pipe, so a SIGKILL never loses a line it had read (src/logger/feeder.ts).
 */
static napi_value Tee(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t in, out, len;
  CHECK(get_args(env, info, 3, a));
  if (arg_int32(env, a[0], &in, "fdIn") < 0 || arg_int32(env, a[1], &out, "fdOut") < 0 ||
      arg_int32(env, a[2], &len, "len") < 0)
    return NULL;
  if (len < 0) len = 0;
  ssize_t r;
  do r = tee(in, out, (size_t)len, SPLICE_F_NONBLOCK);
  while (r < 0 && errno == EINTR);
  return js_int(env, r < 0 ? -errno : r);
}

/*
 * splice(2) from pipe fdIn to fdOut at offset offOut (a regular file; fdOut's own position is left alone),
 * SPLICE_F_NONBLOCK. Non-throwing: bytes moved, 0 = fdIn empty with no writer left (EOF), or -errno (-EAGAIN:
 * fdIn empty; -EINVAL: fdIn not a pipe, or fdOut's file system cannot splice). The kernel writes and takes the
 * same bytes under the pipe's lock, so a SIGKILL never separates "written to the file" from "taken from the
 * pipe": the logger's spool relies on it (src/logger/spool.ts).
 */
static napi_value Splice(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t in, out, len;
  int64_t off;
  CHECK(get_args(env, info, 4, a));
  if (arg_int32(env, a[0], &in, "fdIn") < 0 || arg_int32(env, a[1], &out, "fdOut") < 0 ||
      arg_int64(env, a[2], &off, "offOut") < 0 || arg_int32(env, a[3], &len, "len") < 0)
    return NULL;
  if (len < 0) len = 0;
  off_t o = (off_t)off;
  ssize_t r;
  do r = splice(in, NULL, out, off < 0 ? NULL : &o, (size_t)len, SPLICE_F_NONBLOCK);
  while (r < 0 && errno == EINTR);
  return js_int(env, r < 0 ? -errno : r);
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  /* on Linux the fd is gone even when close reports EINTR: never retry */
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close", NULL);
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------------------
 * locks
 */

static napi_value Lock(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t fd;
  CHECK(get_args(env, info, 4, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  int excl = arg_bool_opt(env, a[1], 1), ofd = arg_bool_opt(env, a[2], 1), wait = arg_bool_opt(env, a[3], 0);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = excl ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  int cmd = ofd ? (wait ? F_OFD_SETLKW : F_OFD_SETLK) : (wait ? F_SETLKW : F_SETLK);
  int r;
  do r = fcntl(fd, cmd, &fl);
  while (r < 0 && errno == EINTR);
  if (r == 0) return js_bool(env, 1);
  if (errno == EAGAIN || errno == EACCES) return js_bool(env, 0);
  return throw_errno(env, errno, "fcntl", NULL);
}

static napi_value Unlock(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  int ofd = arg_bool_opt(env, a[1], 1);
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_UNLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, ofd ? F_OFD_SETLK : F_SETLK, &fl) < 0) return throw_errno(env, errno, "fcntl", NULL);
  return js_undefined(env);
}

static napi_value LockHolder(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_GETLK, &fl) < 0) return throw_errno(env, errno, "fcntl", NULL);
  if (fl.l_type == F_UNLCK) return js_int(env, 0);
  return js_int(env, fl.l_pid);
}

/* ------------------------------------------------------------------------------------------------------------
 * system
 */

static napi_value Reboot(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t cmd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &cmd, "cmd") < 0) return NULL;
  if (reboot(cmd) < 0) return throw_errno(env, errno, "reboot", NULL);
  return js_undefined(env);
}

static napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value a[5];
  char *src = NULL, *tgt = NULL, *type = NULL, *data = NULL;
  int64_t flags = 0;
  napi_value r = NULL;
  CHECK(get_args(env, info, 5, a));
  if (arg_string_opt(env, a[0], &src, "source") < 0) goto out;
  if (!(tgt = arg_string(env, a[1], "target"))) goto out;
  if (arg_string_opt(env, a[2], &type, "fstype") < 0) goto out;
  if (!is_nullish(env, a[3]) && arg_int64(env, a[3], &flags, "flags") < 0) goto out;
  if (arg_string_opt(env, a[4], &data, "data") < 0) goto out;
  if (mount(src, tgt, type, (unsigned long)flags, data) < 0)
    throw_errno(env, errno, "mount", tgt);
  else
    r = js_undefined(env);
out:
  free(src);
  free(tgt);
  free(type);
  free(data);
  return r;
}

static napi_value Umount(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t flags = 0;
  CHECK(get_args(env, info, 2, a));
  char *t = arg_string(env, a[0], "target");
  if (!t) return NULL;
  if (!is_nullish(env, a[1]) && arg_int32(env, a[1], &flags, "flags") < 0) {
    free(t);
    return NULL;
  }
  napi_value r = js_undefined(env);
  if (umount2(t, flags) < 0) r = throw_errno(env, errno, "umount2", t);
  free(t);
  return r;
}

static napi_value Sync(napi_env env, napi_callback_info info) {
  (void)info;
  sync();
  return js_undefined(env);
}

static napi_value ClockGettime(napi_env env, napi_callback_info info) {
  napi_value a[1], arr;
  int32_t clk = CLOCK_MONOTONIC;
  CHECK(get_args(env, info, 1, a));
  if (!is_nullish(env, a[0]) && arg_int32(env, a[0], &clk, "clock") < 0) return NULL;
  struct timespec ts;
  if (clock_gettime(clk, &ts) < 0) return throw_errno(env, errno, "clock_gettime", NULL);
  CHECK(napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, js_int(env, ts.tv_sec));
  napi_set_element(env, arr, 1, js_int(env, ts.tv_nsec));
  return arr;
}

/* RLIM_INFINITY <-> Infinity */
static napi_value rlim_js(napi_env env, rlim_t v) {
  napi_value r;
  if (v == RLIM_INFINITY)
    napi_create_double(env, INFINITY, &r);
  else
    napi_create_double(env, (double)v, &r);
  return r;
}

static int rlim_arg(napi_env env, napi_value v, rlim_t *out, const char *what) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return -1;
  }
  napi_get_value_double(env, v, &d);
  if (d < 0 || d == INFINITY || d >= 18446744073709551615.0)
    *out = RLIM_INFINITY;
  else
    *out = (rlim_t)d;
  return 0;
}

static napi_value Getrlimit(napi_env env, napi_callback_info info) {
  napi_value a[1], arr;
  int32_t res;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &res, "resource") < 0) return NULL;
  struct rlimit rl;
  if (getrlimit(res, &rl) < 0) return throw_errno(env, errno, "getrlimit", NULL);
  CHECK(napi_create_array_with_length(env, 2, &arr));
  napi_set_element(env, arr, 0, rlim_js(env, rl.rlim_cur));
  napi_set_element(env, arr, 1, rlim_js(env, rl.rlim_max));
  return arr;
}

static napi_value Setrlimit(napi_env env, napi_callback_info info) {
  napi_value a[3];
  int32_t res;
  struct rlimit rl;
  CHECK(get_args(env, info, 3, a));
  if (arg_int32(env, a[0], &res, "resource") < 0) return NULL;
  if (rlim_arg(env, a[1], &rl.rlim_cur, "soft") < 0 || rlim_arg(env, a[2], &rl.rlim_max, "hard") < 0) return NULL;
  if (setrlimit(res, &rl) < 0) return throw_errno(env, errno, "setrlimit", NULL);
  return js_undefined(env);
}

static napi_value Tiocnotty(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  if (ioctl(fd, TIOCNOTTY) < 0) return throw_errno(env, errno, "ioctl", NULL);
  return js_undefined(env);
}

/* tcgetpgrp(fd), non-throwing: the foreground process group (as seen from our pid namespace; 0 if it is not
 * visible there) or a negative errno (-ENOTTY: not our controlling terminal). */
static napi_value Tcgetpgrp(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  pid_t pg = tcgetpgrp(fd);
  return js_int(env, pg < 0 ? -errno : pg);
}

/* tcsetpgrp(fd, pgrp) with SIGTTOU blocked for the call (so a background caller is not stopped), non-throwing:
 * 0 or a negative errno. */
static napi_value Tcsetpgrp(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd, pg;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0 || arg_int32(env, a[1], &pg, "pgrp") < 0) return NULL;
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  int rc = tcsetpgrp(fd, (pid_t)pg) < 0 ? -errno : 0;
  sigprocmask(SIG_SETMASK, &old, NULL);
  return js_int(env, rc);
}

/* ignoreSignal(sig, on): SIG_IGN (on) or SIG_DFL (off) for a signal nothing in Node handles (SIGTTOU, SIGTTIN,
 * SIGTSTP). Never use it on a signal with a process.on listener: it would replace libuv's handler. Children
 * get SIG_DFL back at spawn (resetSignals). */
static napi_value IgnoreSignal(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t sig;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &sig, "sig") < 0) return NULL;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = arg_bool_opt(env, a[1], 1) ? SIG_IGN : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) < 0) return throw_errno(env, errno, "sigaction", NULL);
  return js_undefined(env);
}

static napi_value KdSigAccept(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t fd, sig;
  CHECK(get_args(env, info, 2, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0 || arg_int32(env, a[1], &sig, "sig") < 0) return NULL;
  if (ioctl(fd, KDSIGACCEPT, (long)sig) < 0) return throw_errno(env, errno, "ioctl", NULL);
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------------------
 * AF_UNIX stream sockets with descriptor passing: the service manager's control socket (src/rc). The server
 * side is non-blocking and watched with pollStart; sendFds/recvFds never block (MSG_DONTWAIT) and never raise
 * SIGPIPE (MSG_NOSIGNAL); they return a negative errno instead of throwing, like read/write.
 */

#define MAX_PASSED_FDS 16

static int unix_addr(napi_env env, napi_value v, struct sockaddr_un *sa, socklen_t *salen) {
  char *path = arg_string(env, v, "path");
  if (!path) return -1;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof sa->sun_path) {
    free(path);
    throw_errno(env, ENAMETOOLONG, "bind", NULL);
    return -1;
  }
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path, n + 1);
  *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  free(path);
  return 0;
}

/* unixListen(path, backlog): socket + bind + listen, non-blocking and close-on-exec; the caller removes a
 * stale socket file first and sets its mode. */
static napi_value UnixListen(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int32_t backlog = 64;
  struct sockaddr_un sa;
  socklen_t salen;
  CHECK(get_args(env, info, 2, a));
  if (unix_addr(env, a[0], &sa, &salen) < 0) return NULL;
  if (!is_nullish(env, a[1]) && arg_int32(env, a[1], &backlog, "backlog") < 0) return NULL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "bind", sa.sun_path);
  }
  if (listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "listen", sa.sun_path);
  }
  return js_int(env, fd);
}

/* unixConnect(path): a blocking, close-on-exec stream socket connected to path (a client's; it may then be
 * made non-blocking with setNonblock). */
static napi_value UnixConnect(napi_env env, napi_callback_info info) {
  napi_value a[1];
  struct sockaddr_un sa;
  socklen_t salen;
  CHECK(get_args(env, info, 1, a));
  if (unix_addr(env, a[0], &sa, &salen) < 0) return NULL;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  int r;
  do r = connect(fd, (struct sockaddr *)&sa, salen);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "connect", sa.sun_path);
  }
  return js_int(env, fd);
}

/* accept(fd): a non-blocking, close-on-exec connection, or a negative errno (-EAGAIN: none waiting) */
static napi_value Accept(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t fd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  int c;
  do c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (c < 0 && errno == EINTR);
  return js_int(env, c < 0 ? -errno : c);
}

/* sendFds(fd, buf, offset, length, fds): sendmsg with the fds as SCM_RIGHTS (at most 16); bytes sent or a
 * negative errno */
static napi_value SendFds(napi_env env, napi_callback_info info) {
  napi_value a[5];
  int32_t fd;
  char *p;
  size_t len;
  uint32_t nfds = 0;
  CHECK(get_args(env, info, 5, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  if (buf_range(env, a[1], a[2], a[3], &p, &len) < 0) return NULL;
  int *fds = NULL;
  if (!is_nullish(env, a[4])) {
    if (!(fds = arg_fdv(env, a[4], &nfds, "fds"))) return NULL;
    if (nfds > MAX_PASSED_FDS) {
      free(fds);
      return throw_type(env, "fds: at most 16");
    }
  }
  struct iovec iov = {p, len};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
  } cbuf;
  if (nfds) {
    memset(&cbuf, 0, sizeof cbuf);
    m.msg_control = cbuf.b;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  free(fds);
  ssize_t r;
  do r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return js_int(env, r < 0 ? -errno : r);
}

/* recvFds(fd, buf, offset, length): [bytes or negative errno, fds received (close-on-exec)]. A message whose
 * fds did not fit (MSG_CTRUNC) gets every fd that came closed and -EBADMSG. */
static napi_value RecvFds(napi_env env, napi_callback_info info) {
  napi_value a[4], arr, ret;
  int32_t fd;
  char *p;
  size_t len;
  CHECK(get_args(env, info, 4, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  if (buf_range(env, a[1], a[2], a[3], &p, &len) < 0) return NULL;
  struct iovec iov = {p, len};
  struct msghdr m;
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
  } cbuf;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = cbuf.b;
  m.msg_controllen = sizeof cbuf.b;
  ssize_t r;
  do r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  int got[MAX_PASSED_FDS];
  uint32_t n = 0;
  if (r >= 0) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int *d = (int *)CMSG_DATA(c);
      for (size_t i = 0; i < k; i++) {
        if (n < MAX_PASSED_FDS) got[n++] = d[i];
        else close(d[i]);
      }
    }
    if (m.msg_flags & MSG_CTRUNC) {
      for (uint32_t i = 0; i < n; i++) close(got[i]);
      n = 0;
      r = -1;
      errno = EBADMSG;
    }
  }
  CHECK(napi_create_array_with_length(env, n, &arr));
  for (uint32_t i = 0; i < n; i++) napi_set_element(env, arr, i, js_int(env, got[i]));
  CHECK(napi_create_array_with_length(env, 2, &ret));
  napi_set_element(env, ret, 0, js_int(env, r < 0 ? -errno : r));
  napi_set_element(env, ret, 1, arr);
  return ret;
}

/* peerCred(fd): [pid, uid, gid] of the process at the other end (SO_PEERCRED) */
static napi_value PeerCred(napi_env env, napi_callback_info info) {
  napi_value a[1], ret;
  int32_t fd;
  CHECK(get_args(env, info, 1, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0) return NULL;
  struct ucred cr;
  socklen_t l = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0) return throw_errno(env, errno, "getsockopt", NULL);
  CHECK(napi_create_array_with_length(env, 3, &ret));
  napi_set_element(env, ret, 0, js_int(env, cr.pid));
  napi_set_element(env, ret, 1, js_int(env, cr.uid));
  napi_set_element(env, ret, 2, js_int(env, cr.gid));
  return ret;
}

/* ------------------------------------------------------------------------------------------------------------
 * uv_poll watchers
 *
 * The JS handle is an external over a small box; the box points to the live watcher until pollStop. The
 * watcher is freed in uv_close's callback; the box in the external's finalizer. So pollStop is idempotent,
 * safe inside the callback, and a lost JS handle never leaves a dangling pointer.
 */

struct watcher;
struct poll_box {
  struct watcher *w;
};
struct watcher {
  uv_poll_t h;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  struct poll_box *box;
};

static void watcher_closed(uv_handle_t *h) {
  struct watcher *w = h->data;
  napi_delete_reference(w->env, w->cb);
  napi_async_destroy(w->env, w->actx);
  free(w);
}

static void watcher_stop(struct watcher *w) {
  if (w->box) w->box->w = NULL;
  w->box = NULL;
  uv_poll_stop(&w->h);
  uv_close((uv_handle_t *)&w->h, watcher_closed);
}

static void watcher_fire(uv_poll_t *h, int status, int events) {
  struct watcher *w = h->data;
  wd_busy();
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, arg, result;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, w->cb, &cb) == napi_ok && cb) {
    napi_get_global(env, &recv);
    napi_create_int32(env, status < 0 ? status : events, &arg);
    /* w may be stopped (not freed: that happens in uv_close's callback, later) by the JS callback */
    if (napi_make_callback(env, w->actx, recv, cb, 1, &arg, &result) == napi_pending_exception) {
      napi_value ex;
      if (napi_get_and_clear_last_exception(env, &ex) == napi_ok) napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void box_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct poll_box *b = data;
  if (b->w) b->w->box = NULL;
  free(b);
}

static napi_value PollStart(napi_env env, napi_callback_info info) {
  napi_value a[3], ext, name;
  int32_t fd, events;
  napi_valuetype t;
  uv_loop_t *loop;
  CHECK(get_args(env, info, 3, a));
  if (arg_int32(env, a[0], &fd, "fd") < 0 || arg_int32(env, a[1], &events, "events") < 0) return NULL;
  if (napi_typeof(env, a[2], &t) != napi_ok || t != napi_function) return throw_type(env, "cb must be a function");
  if (events & ~(UV_READABLE | UV_WRITABLE | UV_DISCONNECT) || !events)
    return throw_type(env, "events must be a combination of 1 (readable) and 2 (writable)");
  CHECK(napi_get_uv_event_loop(env, &loop));
  struct watcher *w = calloc(1, sizeof *w);
  struct poll_box *b = calloc(1, sizeof *b);
  if (!w || !b) {
    free(w);
    free(b);
    return throw_errno(env, ENOMEM, "malloc", NULL);
  }
  int r = uv_poll_init(loop, &w->h, fd);
  if (r < 0) {
    free(w);
    free(b);
    return throw_uv(env, r, "uv_poll_init");
  }
  w->h.data = w;
  w->env = env;
  napi_create_string_utf8(env, "vigil.poll", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, a[2], 1, &w->cb) != napi_ok || napi_async_init(env, NULL, name, &w->actx) != napi_ok) {
    uv_close((uv_handle_t *)&w->h, (uv_close_cb)free);
    free(b);
    return NULL;
  }
  r = uv_poll_start(&w->h, events, watcher_fire);
  if (r < 0) {
    uv_close((uv_handle_t *)&w->h, watcher_closed);
    free(b);
    return throw_uv(env, r, "uv_poll_start");
  }
  b->w = w;
  w->box = b;
  if (napi_create_external(env, b, box_finalize, NULL, &ext) != napi_ok) {
    watcher_stop(w);
    free(b);
    return NULL;
  }
  return ext;
}

static napi_value PollStop(napi_env env, napi_callback_info info) {
  napi_value a[1];
  napi_valuetype t;
  void *data = NULL;
  CHECK(get_args(env, info, 1, a));
  if (napi_typeof(env, a[0], &t) != napi_ok || t != napi_external) return throw_type(env, "not a poll handle");
  CHECK(napi_get_value_external(env, a[0], &data));
  struct poll_box *b = data;
  if (b && b->w) watcher_stop(b->w);
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------------------
 * the event-loop watchdog (what it is for, what a cold re-exec keeps and loses: src/supervisor/watchdog.ts)
 *
 * A blocked event loop runs no JS, so only a thread can notice it and act. The loop tells this thread where
 * it is with plain memory stores, no system call: a uv_prepare handle (runs just before the loop sleeps in
 * epoll) sets `in_poll`; a uv_check handle (runs once poll returned and its callbacks ran), and the shim's
 * own I/O callbacks into JS (uv_poll watchers, the child watcher's async) clear it; each of them bumps `gen`.
 * The thread:
 * - idle: while the loop is in poll (`in_poll`) and its epoll fd (uv_backend_fd) has nothing ready, the loop
 *   is asleep; the thread sleeps too, in poll(2) on that epoll fd and its own eventfd, with NO timeout: an idle
 *   supervisor makes no wake-up here. It wakes when the loop's epoll fd turns readable (the loop is woken by
 *   the same event) or when the loop, going busy, finds it asleep (`idle` set) and kicks the eventfd once.
 * - watching: it looks every WD_STEP_MS; `gen` moving means the loop turns; `gen` still after limit_ms while
 *   the loop is not asleep (busy, or in poll with events it does not take) means it is blocked: fire. The
 *   time the loop thread spent waiting for a CPU (schedstat) is not counted: a starved loop is not blocked.
 * So the cost is one or two wake-ups of this thread per burst of activity (back to idle within WD_STEP_MS of
 * the loop going back to sleep), at most 1000/WD_STEP_MS a second under constant activity, none at idle.
 * What it cannot see: a Node-internal I/O callback (a JS signal listener, fs.watch) that has already drained
 * its fd and then blocks, with nothing else becoming ready: it is caught at the next event of any kind (a
 * child's death kicks the child watcher's async, a signal writes libuv's signal pipe: both are in the epoll
 * set and stay ready while the loop is blocked). vigil's own fds (control fifos, pipes, pidfds) go through
 * the shim's watchers, which mark the loop busy before JS runs.
 * Firing: one line to fd 2 (write(2), from this thread), 0-2 and the fds JS asked for lose close-on-exec, the loop
 * thread's signal mask is put back, and execve(file, argv, env + VIGIL_REEXEC_COLD=...) as JS prepared them
 * (execve from any thread replaces the whole process: same pid, children kept). Start-up is not watched:
 * until the loop first runs, nothing marks it busy.
 */
#define WD_STEP_MS 200

static struct {
  uv_mutex_t mu; /* guards the configuration below (JS sets it, the thread reads it when it fires) */
  int sync_ready, started;
  int64_t limit_ms; /* 0: never fires */
  char *file, **argv, **envp; /* envp has two more slots: the marker, then NULL */
  size_t n_env;
  char *faults; /* the previous fault re-execs' times, carried in the marker ("" or "t1,t2") */
  char *who;    /* the line's prefix: "vigil svscan" */
  int *keep;
  uint32_t n_keep;
  char note[256]; /* a short word from JS (init: CMD's pid), carried in the marker */
  sigset_t mask;  /* the loop thread's signal mask, given back to the new image */
  uv_prepare_t prep;
  uv_check_t chk;
  int backend, kick;
  /* shared without a lock (atomics): the loop's position, and whether the thread sleeps */
  unsigned long gen;
  int in_poll, idle, closing;
} wd;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)

static void wd_kick(void) {
  uint64_t one = 1;
  ssize_t r;
  do r = write(wd.kick, &one, sizeof one);
  while (r < 0 && errno == EINTR);
}

/*
 * Only loads and stores (ldar/stlr, mov on x86), no read-modify-write atomics: `gen` has one writer (the loop
 * thread), and those would be out-of-line calls on arm64 (libgcc's LSE helpers need __getauxval, which musl's
 * libc does not export to the prebuilt shim).
 */
#define BUMP(x) STORE(x, LOAD(x) + 1)

/* the loop is busy (poll returned): called on the loop thread, before any JS of this turn that could block */
static void wd_busy(void) {
  if (!wd.started) return;
  BUMP(wd.gen);
  STORE(wd.in_poll, 0);
  /* the thread sleeps with no timeout: wake it, once (it clears `idle` itself when something else woke it;
   * a kick it then finds is drained) */
  if (LOAD(wd.idle)) {
    STORE(wd.idle, 0);
    wd_kick();
  }
}

static void wd_prepare_cb(uv_prepare_t *h) {
  (void)h;
  BUMP(wd.gen);
  STORE(wd.in_poll, 1);
}

static void wd_check_cb(uv_check_t *h) {
  (void)h;
  wd_busy();
}

static int wd_readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  int r;
  do r = poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & POLLIN);
}

static void wd_drain_kick(void) {
  uint64_t v;
  while (read(wd.kick, &v, sizeof v) > 0) {
  }
}

static void wd_say(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    s += w;
    n -= (size_t)w;
  }
}

static void wd_fire(int64_t blocked, int64_t starved) {
  char line[768], marker[512];
  uv_mutex_lock(&wd.mu);
  if (!wd.file || wd.limit_ms <= 0 || LOAD(wd.closing)) {
    uv_mutex_unlock(&wd.mu);
    return;
  }
  snprintf(line, sizeof line,
           "%s: fatal: the event loop has not turned for %lld ms (%lld ms of it waiting for a CPU; the watchdog "
           "allows %lld ms): re-executing without a state file, services kept\n",
           wd.who, (long long)blocked, (long long)starved, (long long)wd.limit_ms);
  wd_say(line);
  /* VIGIL_REEXEC_COLD=1;<previous fault times>;<this fault's time>;<blocked ms>;<note> (src/supervisor/watchdog.ts) */
  snprintf(marker, sizeof marker, "VIGIL_REEXEC_COLD=1;%s;%lld;%lld;%s", wd.faults, (long long)mono_ms(),
           (long long)blocked, wd.note);
  wd.envp[wd.n_env] = marker;
  wd.envp[wd.n_env + 1] = NULL;
  /* 0-2 too: Node marks them close-on-exec (src/sys/exec.ts execReplace keeps them the same way) */
  for (int fd = 0; fd < 3; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  for (uint32_t i = 0; i < wd.n_keep; i++) {
    int fl = fcntl(wd.keep[i], F_GETFD);
    if (fl >= 0) fcntl(wd.keep[i], F_SETFD, fl & ~FD_CLOEXEC);
  }
  sigprocmask(SIG_SETMASK, &wd.mask, NULL);
  execve(wd.file, wd.argv, wd.envp);
  /* PID 1 must not exit (a machine's kernel panics): it stays as it is, unwatched; anything else ends as a
   * fault used to (111) */
  int pid1 = getpid() == 1;
  snprintf(line, sizeof line, "%s: fatal: unable to re-execute: execve %s: %s - %s\n", wd.who, wd.file,
           strerror(errno), pid1 ? "PID 1 stays as it is, no longer watched" : "exiting 111");
  wd_say(line);
  if (!pid1) _exit(111);
  wd.limit_ms = 0;
  uv_mutex_unlock(&wd.mu);
}

/*
 * How long the loop thread has waited for a CPU so far (ms; /proc/self/task/PID/schedstat, its 2nd field;
 * 0 when unknown). A loop that is starved, not blocked, does not count against the limit: on a machine
 * loaded far beyond its cores (load 18 on 2 cores is seen in CI) a turn that needs 1 s of CPU can take 9 s.
 */
static int64_t wd_waited_ms(void) {
  char p[64], b[160];
  snprintf(p, sizeof p, "/proc/self/task/%d/schedstat", (int)getpid()); /* the loop's thread: the main one */
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  if (n <= 0) return 0;
  b[n] = 0;
  unsigned long long run, wait;
  if (sscanf(b, "%llu %llu", &run, &wait) != 2) return 0;
  return (int64_t)(wait / 1000000ULL);
}

static void wd_thread(void *arg) {
  (void)arg;
  unsigned long last = LOAD(wd.gen);
  int64_t since = mono_ms(), waited = -1, starved = 0;
  for (;;) {
    if (LOAD(wd.closing)) return;
    if (LOAD(wd.in_poll) && !wd_readable(wd.backend)) {
      /* the loop sleeps in epoll: so does this thread, with no timeout */
      STORE(wd.idle, 1);
      if (LOAD(wd.in_poll)) { /* else the loop went busy since the look (and may not have seen idle) */
        struct pollfd p[2] = {{wd.backend, POLLIN, 0}, {wd.kick, POLLIN, 0}};
        int r;
        do r = poll(p, 2, -1);
        while (r < 0 && errno == EINTR);
      }
      STORE(wd.idle, 0);
      wd_drain_kick();
      last = LOAD(wd.gen);
      since = mono_ms();
      waited = -1; /* read when it matters: only a long turn needs it */
      starved = 0;
      continue;
    }
    uv_mutex_lock(&wd.mu);
    int64_t lim = wd.limit_ms;
    uv_mutex_unlock(&wd.mu);
    int64_t now = mono_ms();
    int64_t step = WD_STEP_MS;
    int64_t rem = lim - (now - since - starved);
    if (lim > 0 && rem < step) step = rem > 1 ? rem : 1;
    struct pollfd k = {wd.kick, POLLIN, 0};
    if (poll(&k, 1, (int)step) > 0) wd_drain_kick();
    unsigned long g = LOAD(wd.gen);
    now = mono_ms();
    if (g != last) {
      last = g;
      since = now;
      waited = -1;
      starved = 0;
      continue;
    }
    /* a turn longer than a step: from now on, count the loop thread's waits for a CPU out */
    if (waited < 0) waited = wd_waited_ms();
    if (lim <= 0 || now - since - starved < lim || (LOAD(wd.in_poll) && !wd_readable(wd.backend))) continue;
    starved = wd_waited_ms() - waited;
    if (now - since - starved >= lim) wd_fire(now - since, starved);
  }
}

/* the configuration's mutex, made once (JS thread only) */
static int wd_sync(void) {
  if (!wd.sync_ready) {
    if (uv_mutex_init(&wd.mu) < 0) return -1;
    wd.sync_ready = 1;
  }
  return 0;
}

static void wd_cleanup(void *arg) {
  (void)arg;
  STORE(wd.closing, 1);
  wd_kick();
  uv_close((uv_handle_t *)&wd.prep, NULL);
  uv_close((uv_handle_t *)&wd.chk, NULL);
}

/*
 * watchdog({limitMs, file, argv, env, faults, who, keep}): (re)configure the watchdog, starting it the first
 * time (limitMs > 0). env: "K=V" strings without the marker; faults: "" or "t1,t2"; keep: fds that must
 * survive the exec. Returns true while it runs.
 */
static napi_value Watchdog(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int64_t limit;
  char *file = NULL, **argv = NULL, **envp = NULL, *faults = NULL, *who = NULL;
  int *keep = NULL;
  uint32_t n_keep = 0;
  CHECK(get_args(env, info, 1, a));
  if (wd_sync() < 0) return throw_errno(env, ENOMEM, "uv_mutex_init", NULL);
  if (arg_int64(env, get_prop(env, a[0], "limitMs"), &limit, "limitMs") < 0) return NULL;
  if (!(file = arg_string(env, get_prop(env, a[0], "file"), "file")) ||
      !(argv = arg_strv(env, get_prop(env, a[0], "argv"), "argv")) ||
      !(faults = arg_string(env, get_prop(env, a[0], "faults"), "faults")) ||
      !(who = arg_string(env, get_prop(env, a[0], "who"), "who")) ||
      !(keep = arg_fdv(env, get_prop(env, a[0], "keep"), &n_keep, "keep")))
    goto fail;
  {
    /* the environment, with two more slots (the marker, NULL) */
    char **e = arg_strv(env, get_prop(env, a[0], "env"), "env");
    if (!e) goto fail;
    size_t n = 0;
    while (e[n]) n++;
    envp = realloc(e, (n + 2) * sizeof *envp);
    if (!envp) {
      free_strv(e);
      throw_errno(env, ENOMEM, "malloc", NULL);
      goto fail;
    }
    envp[n] = envp[n + 1] = NULL;
    uv_mutex_lock(&wd.mu);
    char *of = wd.file, **oa = wd.argv, **oe = wd.envp, *ofa = wd.faults, *ow = wd.who;
    int *ok = wd.keep;
    wd.file = file;
    wd.argv = argv;
    wd.envp = envp;
    wd.n_env = n;
    wd.faults = faults;
    wd.who = who;
    wd.keep = keep;
    wd.n_keep = n_keep;
    wd.limit_ms = limit > 0 ? limit : 0;
    sigprocmask(SIG_BLOCK, NULL, &wd.mask);
    uv_mutex_unlock(&wd.mu);
    free(of);
    free_strv(oa);
    free_strv(oe);
    free(ofa);
    free(ow);
    free(ok);
  }
  if (wd.started || limit <= 0) return js_bool(env, wd.started);
  {
    uv_loop_t *loop;
    CHECK(napi_get_uv_event_loop(env, &loop));
    wd.backend = uv_backend_fd(loop);
    wd.kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wd.backend < 0 || wd.kick < 0) return throw_errno(env, wd.kick < 0 ? errno : EBADF, "watchdog", NULL);
    uv_prepare_init(loop, &wd.prep);
    uv_check_init(loop, &wd.chk);
    uv_prepare_start(&wd.prep, wd_prepare_cb);
    uv_check_start(&wd.chk, wd_check_cb);
    uv_unref((uv_handle_t *)&wd.prep); /* never keep the loop alive */
    uv_unref((uv_handle_t *)&wd.chk);
    STORE(wd.in_poll, 1); /* start-up is not watched: the loop is "asleep" until it first runs */
    wd.started = 1;
    uv_thread_options_t opts = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = 64 * 1024};
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    uv_thread_t th;
    int rc = uv_thread_create_ex(&th, &opts, wd_thread, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
      wd.started = 0;
      uv_close((uv_handle_t *)&wd.prep, NULL);
      uv_close((uv_handle_t *)&wd.chk, NULL);
      close(wd.kick);
      return throw_uv(env, rc, "uv_thread_create_ex");
    }
    napi_add_env_cleanup_hook(env, wd_cleanup, NULL);
  }
  return js_bool(env, 1);
fail:
  free(file);
  free_strv(argv);
  free(faults);
  free(who);
  free(keep);
  return NULL;
}

/* watchdogNote(s): the short note carried in the marker (truncated to 255 bytes); no system call */
static napi_value WatchdogNote(napi_env env, napi_callback_info info) {
  napi_value a[1];
  CHECK(get_args(env, info, 1, a));
  char *s = arg_string(env, a[0], "note");
  if (!s) return NULL;
  if (wd_sync() < 0) {
    free(s);
    return throw_errno(env, ENOMEM, "uv_mutex_init", NULL);
  }
  uv_mutex_lock(&wd.mu);
  snprintf(wd.note, sizeof wd.note, "%s", s);
  uv_mutex_unlock(&wd.mu);
  free(s);
  return js_undefined(env);
}

/* ------------------------------------------------------------------------------------------------------------
 * module
 */

static void set_const(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_set_named_property(env, obj, name, js_int(env, v));
}

static napi_value Init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"spawn", Spawn},
      {"reap", Reap},
      {"watchChildren", WatchChildren},
      {"waitpid", Waitpid},
      {"hasChildren", HasChildren},
      {"execve", Execve},
      {"mkfifo", Mkfifo},
      {"pipe", Pipe},
      {"dup2", Dup2},
      {"dupCloexec", DupCloexec},
      {"setCloexec", SetCloexec},
      {"setNonblock", SetNonblock},
      {"read", Read},
      {"write", Write},
      {"writeDontwait", WriteDontwait},
      {"close", Close},
      {"tee", Tee},
      {"splice", Splice},
      {"kill", Kill},
      {"lock", Lock},
      {"unlock", Unlock},
      {"lockHolder", LockHolder},
      {"setsid", Setsid},
      {"setSubreaper", SetSubreaper},
      {"getSubreaper", GetSubreaper},
      {"reboot", Reboot},
      {"mount", Mount},
      {"umount", Umount},
      {"sync", Sync},
      {"pidfdOpen", PidfdOpen},
      {"pidfdSendSignal", PidfdSendSignal},
      {"pollStart", PollStart},
      {"pollStop", PollStop},
      {"clockGettime", ClockGettime},
      {"getrlimit", Getrlimit},
      {"setrlimit", Setrlimit},
      {"tiocnotty", Tiocnotty},
      {"kdSigAccept", KdSigAccept},
      {"tcgetpgrp", Tcgetpgrp},
      {"tcsetpgrp", Tcsetpgrp},
      {"ignoreSignal", IgnoreSignal},
      {"setProcessName", SetProcessName},
      {"unixListen", UnixListen},
      {"unixConnect", UnixConnect},
      {"accept", Accept},
      {"sendFds", SendFds},
      {"recvFds", RecvFds},
      {"peerCred", PeerCred},
      {"watchdog", Watchdog},
      {"watchdogNote", WatchdogNote},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK(napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(napi_set_named_property(env, exports, fns[i].name, f));
  }
  napi_value c;
  CHECK(napi_create_object(env, &c));
  set_const(env, c, "RB_AUTOBOOT", RB_AUTOBOOT);
  set_const(env, c, "RB_HALT_SYSTEM", RB_HALT_SYSTEM);
  set_const(env, c, "RB_POWER_OFF", RB_POWER_OFF);
  set_const(env, c, "RB_ENABLE_CAD", RB_ENABLE_CAD);
  set_const(env, c, "RB_DISABLE_CAD", RB_DISABLE_CAD);
  set_const(env, c, "MS_RDONLY", MS_RDONLY);
  set_const(env, c, "MS_NOSUID", MS_NOSUID);
  set_const(env, c, "MS_NODEV", MS_NODEV);
  set_const(env, c, "MS_NOEXEC", MS_NOEXEC);
  set_const(env, c, "MS_REMOUNT", MS_REMOUNT);
  set_const(env, c, "MS_BIND", MS_BIND);
  set_const(env, c, "MS_MOVE", MS_MOVE);
  set_const(env, c, "MS_REC", MS_REC);
  set_const(env, c, "MS_PRIVATE", MS_PRIVATE);
  set_const(env, c, "MS_SLAVE", MS_SLAVE);
  set_const(env, c, "MS_SHARED", MS_SHARED);
  set_const(env, c, "MNT_DETACH", MNT_DETACH);
  set_const(env, c, "MNT_FORCE", MNT_FORCE);
  set_const(env, c, "CLOCK_REALTIME", CLOCK_REALTIME);
  set_const(env, c, "CLOCK_MONOTONIC", CLOCK_MONOTONIC);
  set_const(env, c, "CLOCK_BOOTTIME", CLOCK_BOOTTIME);
  set_const(env, c, "RLIMIT_NOFILE", RLIMIT_NOFILE);
  set_const(env, c, "RLIMIT_CORE", RLIMIT_CORE);
  set_const(env, c, "RLIMIT_NPROC", RLIMIT_NPROC);
  set_const(env, c, "POLL_READABLE", UV_READABLE);
  set_const(env, c, "POLL_WRITABLE", UV_WRITABLE);
  napi_property_descriptor d = {"constants", NULL, NULL, NULL, NULL, c, napi_enumerable, NULL};
  CHECK(napi_define_properties(env, exports, 1, &d));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
