/*
 * prefork - a parent that keeps n worker processes running: pksd and
 * sq-sealerd. The parent never reads the network; it starts the workers,
 * starts another when one ends (after a second, so a crash loop does not
 * spin), gives up with 111 when workers die within five seconds of
 * starting five times in a row, passes SIGHUP on to them, and on SIGTERM
 * or SIGINT stops them all and returns. A worker whose parent dies, even
 * by SIGKILL, gets SIGTERM (PR_SET_PDEATHSIG).
 */
#ifndef SQ_PREFORK_H
#define SQ_PREFORK_H

#define PREFORK_MAX 64

/* worker(i, arg) runs in the child for slot i and must not return (it
 * exits). Blocks until SIGTERM or SIGINT; the workers are then stopped. */
void prefork_run(unsigned long n, void (*worker)(unsigned long i, void *arg),
                 void *arg);

#endif
