/*
 * keyring - the PKS keys pksd holds: pks.key (current), pks.key.next
 * (during a rotation: new rows are sealed with it) and pks.key.old (the
 * key before the last rotation, so a row written under it in the last
 * moments of a rotation still opens). The directory is watched: when
 * pks-ctl rotates, the keyring reloads at the next use.
 */
#ifndef SQ_KEYRING_H
#define SQ_KEYRING_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pkskey.h"

enum { KEY_CURRENT, KEY_NEXT, KEY_OLD, KEY_SLOTS };
extern const char *const keyring_files[KEY_SLOTS];

struct keyring {
	int dirfd;
	struct timespec mtime;          /* of the directory when loaded */
	int have[KEY_SLOTS];
	struct pkskey key[KEY_SLOTS];
	time_t alerted;                 /* last failed-reload alert */
	uid_t owner;                    /* every key file's owner */
	char error[160];
};

/* Opens dir and loads the keys, each of which must be mode 0400 and owned
 * by owner ((uid_t)-1: by the owner of dir, for pks-ctl, which may run as
 * root); 0, or -1 (error says why) if the directory or a key file is
 * unusable or there is no key at all. */
int keyring_open(struct keyring *kr, const char *dir, uid_t owner);
void keyring_close(struct keyring *kr);

/* Reloads if the directory changed since the last load; 0 or -1. */
int keyring_refresh(struct keyring *kr);

/* The key with this id, or NULL. */
const struct pkskey *keyring_find(struct keyring *kr, uint32_t id);

/* The key new seals use: next if a rotation is under way, else current. */
const struct pkskey *keyring_sealer(struct keyring *kr);

#endif
