/*
 * berth-shim: the parent process of one Berth container.
 *
 *   berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH [--runtime-root DIR] [--log FILE]
 *              [--tty] [--stdin] [--stdin-once] [--oom-events FILE] [--exec PROCESS_JSON]
 *
 * With --exec it is the parent of one `docker exec` process instead: `RUNTIME exec --detach --process FILE`
 * runs at once, but its output is not read until the first attach client (or `start`) arrives, so none is lost
 * (the pipe holds it meanwhile); the container is not deleted when the process exits.
 *
 * It runs `RUNTIME create`, becomes the container's parent (child subreaper), holds the container's stdio,
 * writes its output to a Docker json-file log, records the exit status in exit.json and answers a one-line
 * protocol on <state-dir>/shim.sock: start, attach, resize, closestdin, wait, state. berthd reads "ok <pid>"
 * or "error <msg>" from our stdout (the ready pipe). Because the shim, not berthd, owns the container, it keeps
 * running and logging while berthd is down or restarting.
 *
 * Single-threaded: one poll() loop over a signalfd (SIGCHLD), the listening socket, the container's output,
 * its stdin (while we hold bytes for it) and the clients.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define CLIENT_MAX_QUEUE (1 << 20) /* past this, a lagging client pauses the container's output ... */
#define STALL_MS 5000              /* ... but only this long; then the client is dropped */
#define LOG_LINE_MAX 16384         /* Docker splits log lines at 16 KiB too */
#define CHUNK 16384                /* read size; buffers live on the stack so an idle shim stays small */
#define DRAIN_MS 2000              /* after the exit, how long the pipes get to reach EOF */
#define FLUSH_MS 2000              /* after exit.json, how long clients get to take their last bytes */

struct buf { char *p; size_t len, cap; };

enum { C_CMD, C_ATTACH, C_WAIT };

struct client {
	struct client *next;
	int fd, kind, dead;
	int want_in, want_out, want_err; /* attach: requested streams */
	int rd_eof;                      /* peer half-closed; from now on we only watch for its hangup */
	int closing;                     /* close once q is flushed */
	long long full_since;            /* when q went over CLIENT_MAX_QUEUE, 0 if it is not */
	size_t linelen;
	char line[128];                  /* the command, until its '\n' */
	struct buf q;                    /* bytes the socket did not take yet */
};

static const char *o_id, *o_bundle, *o_state, *o_runtime, *o_root, *o_log, *o_oom, *o_exec;
static int held; /* exec mode: output is not read until someone attaches or sends start */
static int o_tty, o_stdin, o_once;
static char *p_sock, *p_pid, *p_rtlog, *p_exit, *p_cpid, *p_console;

static int devnull, sigfd, lsock = -1, logfd = -1;
static int outfd[2] = { -1, -1 }; /* container stdout/stderr, our read ends; with a tty [0] is the pty master */
static int master = -1;           /* pty master, for resize */
static int infd = -1;             /* container stdin, our write end (tty: a dup of the master) */
static struct buf inq;            /* stdin bytes the container has not taken yet */
static int in_close_pending;      /* close stdin once inq is written */
static struct buf partial[2];     /* per stream: log output not yet ended by '\n' */
static pid_t cpid;
static int started, exited, finished, exit_code, exit_sig;
static char exit_line[128];
static struct client *clients;
static long long deadline = -1;

/* ---- helpers ---- */

static long long now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* RFC3339 with nanoseconds in UTC, as Docker writes it. */
static void timestamp(char out[48]) {
	struct timespec t;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	size_t n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 48 - n, ".%09ldZ", t.tv_nsec);
}

static char *state_path(const char *name) {
	char *p;
	if (asprintf(&p, "%s/%s", o_state, name) < 0) abort();
	return p;
}

static int write_all(int fd, const void *p, size_t n) {
	for (const char *c = p; n;) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return -1;
		c += w, n -= w;
	}
	return 0;
}

static void buf_add(struct buf *b, const void *p, size_t n) {
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n) cap *= 2;
		if (!(b->p = realloc(b->p, cap))) abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_free(struct buf *b) {
	free(b->p);
	*b = (struct buf){ 0 };
}

/* Removes n bytes from the front; an emptied big buffer is given back, so a burst does not stick to RSS. */
static void buf_drop(struct buf *b, size_t n) {
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (!b->len && b->cap > 65536) buf_free(b);
}

static off_t file_size(const char *path) {
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : 0;
}

static void xclose(int *fd) {
	if (*fd >= 0) close(*fd);
	*fd = -1;
}

static void close_from_3(void) {
	if (close_range(3, ~0U, 0) < 0)
		for (long fd = 3, max = sysconf(_SC_OPEN_MAX); fd < max; fd++) close(fd);
}

/* ---- the OCI runtime ---- */

/*
 * Runs `RUNTIME [--root R] --log runtime.log --log-format json ARGS...` with the given stdio and nothing else
 * open: anything leaked (the ready pipe above all) would be inherited by the container and keep berthd waiting
 * for an EOF that never comes. The signal mask and ignored signals survive exec, so they are reset too.
 */
static pid_t spawn_rt(const char *const *args, int in, int out, int err) {
	const char *argv[24] = { o_runtime };
	int n = 1;
	if (o_root) argv[n++] = "--root", argv[n++] = o_root;
	argv[n++] = "--log", argv[n++] = p_rtlog, argv[n++] = "--log-format", argv[n++] = "json";
	while (*args && n < 23) argv[n++] = *args++;
	pid_t pid = fork();
	if (pid != 0) return pid;
	int fds[3] = { in, out, err };
	for (int i = 0; i < 3; i++) fds[i] = fcntl(fds[i], F_DUPFD, 3); /* a target may be another's source */
	for (int i = 0; i < 3; i++) dup2(fds[i], i);
	close_from_3();
	sigset_t none;
	sigemptyset(&none), sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL), signal(SIGINT, SIG_DFL);
	execvp(o_runtime, (char **)argv);
	_exit(127);
}

static int wait_pid(pid_t pid) {
	int st;
	if (pid < 0) return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) return -1;
	return st;
}

/* Finds the value of "key" in a JSON line; crun writes "msg" first, runc "level" first. */
static const char *json_field(const char *line, const char *key) {
	for (const char *p = line; (p = strstr(p, key)); p++) {
		const char *v = p + strlen(key);
		while (*v == ' ') v++;
		if (*v++ != ':') continue;
		while (*v == ' ') v++;
		return v;
	}
	return NULL;
}

/* Decodes the JSON string starting after its opening quote into one printable line. */
static void json_unquote(const char *s, char *out, size_t size) {
	size_t n = 0;
	for (; *s && *s != '"' && n + 1 < size; s++) {
		char c = *s;
		if (c == '\\' && s[1]) {
			unsigned v = '?';
			c = *++s;
			if (c == 'u' && strlen(s + 1) >= 4 && sscanf(s + 1, "%4x", &v) == 1) s += 4;
			if (c == 'u') c = v >= 0x20 && v < 0x7f ? (char)v : '?';
			else if (strchr("nrtbf", c)) c = ' ';
		}
		out[n++] = (unsigned char)c < 0x20 ? ' ' : c;
	}
	out[n] = 0;
}

/* Why a runtime call failed: the last error it logged after offset `from`, else its exit status. */
static void rt_error(off_t from, int st, char *msg, size_t size) {
	if (st >= 0 && WIFSIGNALED(st)) snprintf(msg, size, "runtime killed by signal %d", WTERMSIG(st));
	else snprintf(msg, size, "runtime failed with exit status %d", st >= 0 ? WEXITSTATUS(st) : -1);
	int fd = open(p_rtlog, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return;
	off_t end = lseek(fd, 0, SEEK_END);
	if (end - from > 65536) from = end - 65536;
	size_t len = end > from ? end - from : 0, got = 0;
	char *text = malloc(len + 1);
	while (text && got < len) {
		ssize_t r = pread(fd, text + got, len - got, from + got);
		if (r > 0) got += r;
		else if (r == 0 || errno != EINTR) break;
	}
	close(fd);
	if (!text) return;
	text[got] = 0;
	for (char *line = text, *nl; line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n'))) *nl = 0;
		const char *lv = json_field(line, "\"level\""), *m = json_field(line, "\"msg\"");
		if (lv && m && *m == '"' && (!strncmp(lv, "\"error\"", 7) || !strncmp(lv, "\"fatal\"", 7)))
			json_unquote(m + 1, msg, size);
	}
	free(text);
}

static void rt_delete(void) {
	const char *args[] = { "delete", "-f", o_id, NULL };
	wait_pid(spawn_rt(args, devnull, devnull, devnull));
}

/* Before "ok": clean up, then report on the ready pipe (so berthd finds nothing left when it reads it). */
static void fail(const char *msg, int del) {
	/* "already exists": another shim owns that container, and delete -f would kill it; an exec that failed
	   must leave its running container alone. */
	if (del && !o_exec && !strstr(msg, "exists")) rt_delete();
	unlink(p_console);
	unlink(p_pid);
	dprintf(1, "error %s\n", msg);
	exit(1);
}

static int listen_unix(const char *path) {
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof a.sun_path) return -1;
	strcpy(a.sun_path, path);
	unlink(path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old = umask(077); /* socket file 0600: whoever can connect can drive the container */
	int ok = s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 64) == 0;
	umask(old);
	if (!ok && s >= 0) close(s);
	return ok ? s : -1;
}

/* The runtime connected during `create` and sent the pty master with SCM_RIGHTS; it waits in our backlog. */
static int recv_console(int ls) {
	struct pollfd p = { .fd = ls, .events = POLLIN };
	while (poll(&p, 1, 5000) < 0)
		if (errno != EINTR) return -1;
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) return -1;
	char data[256];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } u;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof data };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b };
	ssize_t r;
	while ((r = recvmsg(c, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR);
	close(c);
	struct cmsghdr *h = r >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof fd);
	return fd;
}

/* ---- the json-file log ---- */

/* Length of the valid UTF-8 sequence at p, 0 if invalid (overlongs, surrogates and > U+10FFFF too). */
static size_t utf8_len(const unsigned char *p, size_t n) {
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t k;
	if (c < 0x80) return 1;
	if (c >= 0xC2 && c <= 0xDF) k = 2;
	else if (c >= 0xE0 && c <= 0xEF) k = 3, lo = c == 0xE0 ? 0xA0 : lo, hi = c == 0xED ? 0x9F : hi;
	else if (c >= 0xF0 && c <= 0xF4) k = 4, lo = c == 0xF0 ? 0x90 : lo, hi = c == 0xF4 ? 0x8F : hi;
	else return 0;
	if (n < k || p[1] < lo || p[1] > hi) return 0;
	for (size_t i = 2; i < k; i++)
		if ((p[i] & 0xC0) != 0x80) return 0;
	return k;
}

/* One log entry, written with a single write() so a concurrent reader never sees half of it. */
static void log_entry(int s, const char *p, size_t n) {
	char ts[48], *o = malloc(n * 6 + 128), *q = o; /* worst case: every byte becomes \u00XX */
	if (!o) return;
	timestamp(ts);
	q = stpcpy(q, "{\"log\":\"");
	for (size_t i = 0, k; i < n; i += k) {
		unsigned char c = p[i];
		if (!(k = utf8_len((const unsigned char *)p + i, n - i))) q = stpcpy(q, "\xef\xbf\xbd"), k = 1;
		else if (k > 1) q = mempcpy(q, p + i, k);
		else if (c == '"' || c == '\\') *q++ = '\\', *q++ = c;
		else if (c == '\n') q = stpcpy(q, "\\n");
		else if (c == '\r') q = stpcpy(q, "\\r");
		else if (c == '\t') q = stpcpy(q, "\\t");
		else if (c < 0x20 || c == 0x7f) q += sprintf(q, "\\u%04x", c);
		else *q++ = c;
	}
	q += sprintf(q, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", s ? "stderr" : "stdout", ts);
	write_all(logfd, o, q - o);
	free(o);
}

/* Every complete line is an entry; a partial line waits for the rest, up to LOG_LINE_MAX. */
static void log_data(int s, const char *p, size_t n) {
	struct buf *b = &partial[s];
	size_t off = 0;
	if (logfd < 0) return;
	buf_add(b, p, n);
	for (;;) {
		char *nl = memchr(b->p + off, '\n', b->len - off);
		size_t k = nl ? (size_t)(nl - (b->p + off)) + 1 : b->len - off;
		if (k > LOG_LINE_MAX) k = LOG_LINE_MAX;
		else if (!nl) break;
		log_entry(s, b->p + off, k);
		off += k;
	}
	buf_drop(b, off);
}

static void log_flush(int s) {
	if (logfd >= 0 && partial[s].len) log_entry(s, partial[s].p, partial[s].len);
	buf_free(&partial[s]);
}

/* ---- container stdin ---- */

static void stdin_close(void) {
	if (infd < 0) return;
	if (o_tty) { /* a pty cannot be half-closed: send the EOF character instead */
		struct termios t;
		char eof = tcgetattr(infd, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
		write_all(infd, &eof, 1);
	}
	xclose(&infd);
	in_close_pending = 0;
	buf_free(&inq);
}

static void stdin_close_soon(void) {
	if (inq.len) in_close_pending = 1;
	else stdin_close();
}

static void stdin_write(const char *p, size_t n) {
	if (infd < 0) return;
	if (!inq.len) {
		ssize_t w = write(infd, p, n);
		if (w < 0 && errno != EAGAIN && errno != EINTR) { stdin_close(); return; } /* the container closed it */
		if (w > 0) p += w, n -= w;
	}
	if (n) buf_add(&inq, p, n);
}

static void stdin_flush(void) {
	ssize_t w = write(infd, inq.p, inq.len);
	if (w < 0 && errno != EAGAIN && errno != EINTR) { stdin_close(); return; }
	if (w > 0) buf_drop(&inq, w);
	if (!inq.len && in_close_pending) stdin_close();
}

/* ---- clients ---- */

static void drop(struct client *c) {
	if (c->dead) return;
	c->dead = 1;
	if (c->kind == C_ATTACH && c->want_in && !c->rd_eof && o_once) stdin_close_soon(); /* as if it sent EOF */
}

/* Queues bytes for a client, sending right away when nothing waits before them. */
static void client_send(struct client *c, const void *p, size_t n) {
	const char *d = p;
	if (c->dead) return;
	if (!c->q.len) {
		ssize_t w;
		while ((w = send(c->fd, d, n, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) { drop(c); return; }
		if (w > 0) d += w, n -= w;
	}
	if (n) buf_add(&c->q, d, n);
}

static void client_flush(struct client *c) {
	ssize_t w;
	while ((w = send(c->fd, c->q.p, c->q.len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) drop(c);
	else if (w > 0) buf_drop(&c->q, w);
}

static void reply(struct client *c, const char *line) {
	client_send(c, line, strlen(line));
	c->closing = 1;
}

/* Container output goes to the log and to the attach clients that asked for this stream, nowhere else. */
static void broadcast(int s, const char *p, size_t n) {
	unsigned char h[8] = { s + 1, 0, 0, 0, n >> 24, n >> 16, n >> 8, n }; /* Docker's stdcopy header */
	for (struct client *c = clients; c; c = c->next) {
		if (c->kind != C_ATTACH || c->closing || !(s ? c->want_err : c->want_out)) continue;
		if (!o_tty) client_send(c, h, sizeof h);
		client_send(c, p, n);
	}
}

static void do_start(struct client *c) {
	char msg[512], line[520] = "ok\n";
	const char *args[] = { "start", o_id, NULL };
	if (o_exec) { /* the process runs already; start only releases its output */
		started = 1, held = 0;
		reply(c, "ok\n");
		return;
	}
	if (started || exited) {
		reply(c, started ? "error already started\n" : "error container has exited\n");
		return;
	}
	off_t from = file_size(p_rtlog);
	/* Blocking is fine: start takes a few ms, and output written meanwhile waits in the pipe. */
	int st = wait_pid(spawn_rt(args, devnull, devnull, devnull));
	if (st != 0) {
		rt_error(from, st, msg, sizeof msg);
		snprintf(line, sizeof line, "error %s\n", msg);
	}
	started = st == 0;
	reply(c, line);
}

static void command(struct client *c, const char *rest, size_t restlen) {
	char *l = c->line, line[64];
	int in, out, err;
	unsigned short rows, cols;
	if (c->linelen && l[c->linelen - 1] == '\r') l[c->linelen - 1] = 0;
	if (!strcmp(l, "start")) {
		do_start(c);
	} else if (sscanf(l, "attach %d %d %d", &in, &out, &err) == 3) {
		c->kind = C_ATTACH;
		c->want_in = in && o_stdin, c->want_out = out, c->want_err = err;
		client_send(c, "ok\n", 3);
		held = 0;
		if (c->want_in && restlen) stdin_write(rest, restlen); /* stdin that came with the command */
		c->closing = finished;
	} else if (sscanf(l, "resize %hu %hu", &rows, &cols) == 2) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		int r = master < 0 ? (errno = ENOTTY, -1) : ioctl(master, TIOCSWINSZ, &ws);
		snprintf(line, sizeof line, "error %s\n", strerror(errno));
		reply(c, r < 0 ? line : "ok\n");
	} else if (!strcmp(l, "closestdin")) {
		stdin_close_soon();
		reply(c, "ok\n");
	} else if (!strcmp(l, "wait")) {
		c->kind = C_WAIT;
		if (finished) client_send(c, exit_line, strlen(exit_line)), reply(c, "\n");
	} else if (!strcmp(l, "state")) {
		if (exited) snprintf(line, sizeof line, "exited %d\n", exit_code);
		else snprintf(line, sizeof line, "%s %d\n", started ? "running" : "created", (int)cpid);
		reply(c, line);
	} else {
		reply(c, "error unknown command\n");
	}
}

static void client_read(struct client *c) {
	char buf[CHUNK];
	ssize_t r = read(c->fd, buf, sizeof buf);
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
	if (r < 0 || (r == 0 && c->kind == C_CMD)) { drop(c); return; }
	if (r == 0) { /* half-closed: an attach client may still want output */
		if (c->kind == C_ATTACH && c->want_in && o_once) stdin_close_soon();
		c->rd_eof = 1;
		return;
	}
	if (c->kind == C_ATTACH && c->want_in) { stdin_write(buf, r); return; }
	if (c->kind != C_CMD) return; /* nothing else is expected from clients */
	char *nl = memchr(buf, '\n', r);
	size_t k = nl ? (size_t)(nl - buf) : (size_t)r;
	if (c->linelen + k >= sizeof c->line) { reply(c, "error command too long\n"); return; }
	memcpy(c->line + c->linelen, buf, k);
	c->linelen += k;
	c->line[c->linelen] = 0;
	if (nl) command(c, nl + 1, buf + r - (nl + 1));
}

/* ---- events ---- */

/* Reads one chunk of stream s; returns 0 when there was nothing to read. */
static int on_output(int s) {
	char buf[CHUNK];
	ssize_t r = read(outfd[s], buf, sizeof buf);
	if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
	if (r <= 0) { /* EOF, or EIO from a pty master once nobody holds the slave */
		xclose(&outfd[s]);
		if (s == 0) master = -1;
		log_flush(s);
		return 0;
	}
	log_data(s, buf, r);
	broadcast(s, buf, r);
	return 1;
}

static void on_sigchld(void) {
	struct signalfd_siginfo si;
	int st;
	pid_t p;
	while (read(sigfd, &si, sizeof si) > 0);
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != cpid || exited) continue; /* an orphan reparented to us */
		exited = 1;
		exit_sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		exit_code = exit_sig ? 128 + exit_sig : WEXITSTATUS(st);
		/* What is left in the container dies with its pid namespace and closes the pipes; allow it a moment. */
		deadline = now_ms() + DRAIN_MS;
	}
}

/* The kernel's OOM-kill count for the container's memory cgroup (v1 memory.oom_control, v2 memory.events),
   read before the runtime deletes the cgroup. */
static int oom_killed(void) {
	char buf[1024];
	int fd = o_oom ? open(o_oom, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0) return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) return 0;
	buf[n] = 0;
	const char *p = strstr(buf, "oom_kill ");
	return p && atoi(p + 9) > 0;
}

/* The container is gone: take the rest of its output, record the exit, tell everyone. */
static void finish(void) {
	for (int s = 0; s < 2; s++) {
		/* Bounded, as an escaped process may still be writing; reads even if a slow client paused us. */
		for (int i = 0; i < 64 && outfd[s] >= 0 && on_output(s); i++);
		xclose(&outfd[s]);
		log_flush(s);
	}
	master = -1;
	xclose(&infd);
	buf_free(&inq);
	xclose(&logfd);

	char ts[48], *tmp = state_path("exit.json.tmp");
	timestamp(ts);
	snprintf(exit_line, sizeof exit_line, "{\"exitCode\":%d,\"signal\":%d,\"finishedAt\":\"%s\",\"oomKilled\":%s}",
		 exit_code, exit_sig, ts, oom_killed() ? "true" : "false");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) { /* by rename: a reader sees all of it or nothing */
		write_all(fd, exit_line, strlen(exit_line));
		fsync(fd);
		close(fd);
		rename(tmp, p_exit);
	}
	free(tmp);

	xclose(&lsock);
	unlink(p_sock);
	finished = 1;
	for (struct client *c = clients; c; c = c->next) {
		if (c->kind == C_WAIT) client_send(c, exit_line, strlen(exit_line)), client_send(c, "\n", 1);
		if (c->kind != C_CMD) c->closing = 1;
	}
	deadline = now_ms() + FLUSH_MS;
}

static void loop(void) {
	struct pollfd *pf = NULL;
	struct client **pc = NULL;
	size_t cap = 0;
	for (;;) {
		long long now = now_ms(), wake = deadline;
		size_t n = 5;
		int paused = 0;
		for (struct client **pp = &clients; *pp;) {
			struct client *c = *pp;
			if (c->closing && !c->q.len) c->dead = 1;
			/* A lagging client holds the container's output back (no loss), but only for STALL_MS. */
			if (c->q.len < CLIENT_MAX_QUEUE || c->dead) c->full_since = 0;
			else if (!c->full_since) c->full_since = now;
			if (c->full_since && now - c->full_since >= STALL_MS) drop(c);
			if (c->full_since && !c->dead) {
				paused = 1;
				if (wake < 0 || c->full_since + STALL_MS < wake) wake = c->full_since + STALL_MS;
			}
			if (!c->dead) {
				pp = &c->next, n++;
				continue;
			}
			*pp = c->next;
			close(c->fd);
			buf_free(&c->q);
			free(c);
		}
		if (exited && !finished && ((outfd[0] < 0 && outfd[1] < 0) || now >= deadline)) {
			finish();
			continue;
		}
		if (finished && (!clients || now >= deadline)) {
			free(pf), free(pc);
			return;
		}
		if (n > cap) {
			cap = n * 2;
			if (!(pf = realloc(pf, cap * sizeof *pf)) || !(pc = realloc(pc, cap * sizeof *pc))) abort();
		}
		pf[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = lsock, .events = POLLIN };
		pf[2] = (struct pollfd){ .fd = paused || held ? -1 : outfd[0], .events = POLLIN };
		pf[3] = (struct pollfd){ .fd = paused || held ? -1 : outfd[1], .events = POLLIN };
		pf[4] = (struct pollfd){ .fd = inq.len ? infd : -1, .events = POLLOUT };
		n = 5;
		for (struct client *c = clients; c; c = c->next, n++) {
			int blocked = c->kind == C_ATTACH && c->want_in && inq.len; /* stdin backpressure */
			short ev = (c->q.len ? POLLOUT : 0) | (!c->rd_eof && !c->closing && !blocked ? POLLIN : 0);
			/* poll reports a hangup even for no events: leave a blocked client out, or we would spin. */
			pf[n] = (struct pollfd){ .fd = blocked && !ev ? -1 : c->fd, .events = ev };
			pc[n] = c;
		}
		if (poll(pf, n, wake < 0 ? -1 : wake > now ? (int)(wake - now) : 0) < 0) {
			if (errno == EINTR) continue;
			abort();
		}
		if (pf[0].revents) on_sigchld();
		for (int fd; pf[1].revents && lsock >= 0 &&
			     (fd = accept4(lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
			struct client *c = calloc(1, sizeof *c);
			if (!c) abort();
			c->fd = fd, c->next = clients, clients = c;
		}
		for (int s = 0; s < 2; s++)
			if (pf[2 + s].revents && outfd[s] >= 0) on_output(s);
		if (pf[4].revents && infd >= 0 && inq.len) stdin_flush();
		for (size_t i = 5; i < n; i++) {
			struct client *c = pc[i];
			if (c->dead || !pf[i].revents) continue;
			if (pf[i].revents & POLLOUT) client_flush(c);
			if (pf[i].revents & POLLIN) client_read(c);
			else if (pf[i].revents & (POLLHUP | POLLERR)) drop(c); /* gone, and we were not reading it */
		}
	}
}

static void usage(void) {
	dprintf(1, "error usage: berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH "
		   "[--runtime-root DIR] [--log FILE] [--tty] [--stdin] [--stdin-once]\n");
	exit(1);
}

/* Makes a relative path absolute, so the shim can leave its working directory (and not pin a mount). */
static const char *absolute(const char *p) {
	char *r;
	return p && p[0] != '/' && (r = realpath(p, NULL)) ? r : p;
}

int main(int argc, char **argv) {
	close_from_3(); /* whatever our spawner leaked would otherwise live as long as the container */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **dst = !strcmp(a, "--id") ? &o_id : !strcmp(a, "--bundle") ? &o_bundle
			: !strcmp(a, "--state-dir") ? &o_state : !strcmp(a, "--runtime") ? &o_runtime
			: !strcmp(a, "--runtime-root") ? &o_root : !strcmp(a, "--log") ? &o_log
			: !strcmp(a, "--oom-events") ? &o_oom : !strcmp(a, "--exec") ? &o_exec : NULL;
		if (dst && ++i < argc) *dst = argv[i];
		else if (!strcmp(a, "--tty")) o_tty = 1;
		else if (!strcmp(a, "--stdin")) o_stdin = 1;
		else if (!strcmp(a, "--stdin-once")) o_once = 1;
		else usage();
	}
	if (!o_id || (!o_bundle && !o_exec) || !o_state || !o_runtime) usage();
	o_exec = absolute(o_exec);
	held = o_exec != NULL;
	o_state = absolute(o_state), o_root = absolute(o_root);
	if (strchr(o_runtime, '/')) o_runtime = absolute(o_runtime);

	if (getsid(0) != getpid()) setsid(); /* berthd's death, or its terminal's, must take nothing of ours along */
	prctl(PR_SET_CHILD_SUBREAPER, 1);    /* the container's init becomes our child once `create` exits */
	/* SIGTERM too: containers outlive berthd, which stops them by signalling the container, not us. */
	signal(SIGPIPE, SIG_IGN), signal(SIGTERM, SIG_IGN), signal(SIGHUP, SIG_IGN), signal(SIGINT, SIG_IGN);
	sigset_t set;
	sigemptyset(&set), sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

	p_sock = state_path("shim.sock"), p_pid = state_path("shim.pid"), p_rtlog = state_path("runtime.log");
	p_exit = state_path("exit.json"), p_cpid = state_path("pid"), p_console = state_path("console.sock");
	if (sigfd < 0 || (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) fail("cannot set up", 0);
	FILE *f = fopen(p_pid, "we");
	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) fail("cannot write shim.pid", 0);
	if (o_log && (logfd = open(o_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
		fail("cannot open the log file", 0);

	/* The container's ends of its stdio (ours are outfd/infd). */
	int cin = devnull, cout = devnull, cerr = devnull, csock = -1, p[2];
	if (o_tty && (csock = listen_unix(p_console)) < 0) fail("cannot listen on console.sock", 0);
	if (!o_tty && o_stdin) {
		if (pipe2(p, O_CLOEXEC) < 0) fail("pipe failed", 0);
		cin = p[0], infd = p[1];
	}
	for (int s = 0; s < 2 && !o_tty; s++) {
		if (pipe2(p, O_CLOEXEC) < 0) fail("pipe failed", 0);
		outfd[s] = p[0], *(s ? &cerr : &cout) = p[1];
	}

	const char *create[] = { "create", "--bundle", o_bundle, "--pid-file", p_cpid,
				 o_tty ? "--console-socket" : o_id, o_tty ? p_console : NULL, o_id, NULL };
	const char *exec[] = { "exec", "--detach", "--process", o_exec, "--pid-file", p_cpid,
			       o_tty ? "--console-socket" : o_id, o_tty ? p_console : NULL, o_id, NULL };
	const char **args = o_exec ? exec : create;
	off_t from = file_size(p_rtlog);
	int st = wait_pid(spawn_rt(args, cin, cout, cerr));
	/* Only the container may hold the write ends, or we would never see EOF on its output. */
	for (int i = 0, fds[3] = { cin, cout, cerr }; i < 3; i++)
		if (fds[i] != devnull) close(fds[i]);
	if (st != 0) {
		char msg[512];
		rt_error(from, st, msg, sizeof msg);
		fail(msg, 1);
	}
	if (o_tty) {
		master = recv_console(csock);
		close(csock);
		unlink(p_console);
		if (master < 0) fail("no console received from the runtime", 1);
		outfd[0] = master;
		if (o_stdin && (infd = fcntl(master, F_DUPFD_CLOEXEC, 3)) < 0) fail("dup failed", 1);
	}

	char b[32] = "";
	int fd = open(p_cpid, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, b, sizeof b - 1) < 0) b[0] = 0;
	if (fd >= 0) close(fd);
	if ((cpid = atoi(b)) <= 0) fail("cannot read the container pid", 1);
	for (int i = 0, fds[3] = { outfd[0], outfd[1], infd }; i < 3; i++)
		if (fds[i] >= 0) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	if ((lsock = listen_unix(p_sock)) < 0) fail("cannot listen on shim.sock", 1);
	if (chdir("/") < 0) fail("chdir failed", 1);

	dprintf(1, "ok %d\n", (int)cpid);
	for (int i = 0; i < 3; i++) dup2(devnull, i); /* let go of berthd's pipes: it reads them until EOF */
	loop();
	/* The runtime's delete (~10 ms) comes after the exit is reported, off the `docker run` critical path.
	   berthd waits for shim.pid to go away before it starts this container again. */
	if (!o_exec) rt_delete();
	unlink(p_pid);
	return 0;
}
