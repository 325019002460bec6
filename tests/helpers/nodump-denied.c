/*
 * nodump-denied PROGRAM [ARG...] - runs PROGRAM with prctl(PR_SET_DUMPABLE)
 * failing (EPERM, a seccomp filter; no new privileges), so that a test can
 * see what a program does when it cannot turn core dumps off: it must exit
 * 111 with a log line, not go on dumpable (doc/HACKING.md, "Secrets").
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		         offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_DUMPABLE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	if (argc < 2) {
		fputs("usage: nodump-denied PROGRAM [ARG...]\n", stderr);
		return 100;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		fprintf(stderr, "nodump-denied: seccomp: %s\n", strerror(errno));
		return 111;
	}
	execv(argv[1], argv + 1);
	fprintf(stderr, "nodump-denied: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
