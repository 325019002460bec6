/*
 * privdrop - become one of the instance's users, for good: the programs
 * started as root (sq-start) give each child its own uid, its primary
 * group and the user's supplementary groups (the delivery user reads the
 * queue's messages through the group it shares with the queue user).
 * Not root: nothing to drop, and nothing to gain; the call succeeds only
 * when the process already runs as that user or when SQ_HOME is set (a
 * test instance, where every program runs as the one user who made it).
 */
#ifndef SQ_PRIVDROP_H
#define SQ_PRIVDROP_H

/* 0, or -1 with errno (ENOENT: no such user; EPERM: not root and not
 * that user). */
int privdrop(const char *user);

#endif
