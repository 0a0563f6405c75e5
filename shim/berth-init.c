/* berth-init: the tiny PID 1 that `--init` puts in front of a container's command (Docker's docker-init).
 * It runs the command as its child, forwards the signals it receives to it, reaps every orphan that the
 * pid namespace hands it, and exits with the command's status (128+N when the command died of signal N). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	int first = 1;
	if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
	if (first >= argc) {
		fprintf(stderr, "berth-init: usage: berth-init -- COMMAND [ARG...]\n");
		return 2;
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0) {
		perror("berth-init: fork");
		return 1;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* Its own process group, so a terminal's ^C reaches it as it would without an init. */
		setpgid(0, 0);
		if (isatty(STDIN_FILENO)) tcsetpgrp(STDIN_FILENO, getpid());
		execvp(argv[first], &argv[first]);
		fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (;;) {
		siginfo_t si;
		struct timespec tick = { 1, 0 };
		int sig = sigtimedwait(&all, &si, &tick);
		if (sig > 0 && sig != SIGCHLD) kill(child, sig);
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p == child) return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
		}
		if (p < 0 && errno == ECHILD) return 0;
	}
}
