/*
 * keyring - the PKS keys in use. See keyring.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fail.h"
#include "keyring.h"
#include "util/log.h"

const char *const keyring_files[KEY_SLOTS] = {
	[KEY_CURRENT] = "pks.key", [KEY_NEXT] = "pks.key.next",
	[KEY_OLD] = "pks.key.old",
};

static void unload(struct keyring *kr)
{
	for (int i = 0; i < KEY_SLOTS; i++) {
		if (kr->have[i])
			pkskey_free(&kr->key[i]);
		kr->have[i] = 0;
	}
}

/* Loads every key file into a fresh set and swaps it in only if all of
 * them load: a failed reload keeps the keys in use (and is retried at the
 * next use), so a worker never ends up without keys. */
static int load(struct keyring *kr)
{
	struct stat st;
	struct pkskey fresh[KEY_SLOTS];
	int have[KEY_SLOTS] = { 0 };
	if (fstat(kr->dirfd, &st) < 0)
		return -1;
	for (int i = 0; i < KEY_SLOTS; i++) {
		uid_t owner = kr->owner == (uid_t)-1 ? st.st_uid : kr->owner;
		int r = pkskey_load(&fresh[i], kr->dirfd, keyring_files[i], owner);
		if (r < 0 && errno == EPERM)
			snprintf(kr->error, sizeof kr->error, "%s: mode must be "
			         "exactly 0400", keyring_files[i]);
		else if (r < 0 && errno == EACCES)
			snprintf(kr->error, sizeof kr->error, "%s: must be owned "
			         "by uid %lu, mode 0400", keyring_files[i],
			         (unsigned long)owner);
		else if (r < 0)
			snprintf(kr->error, sizeof kr->error, "%s: %s",
			         keyring_files[i], strerror(errno));
		if (r < 0) {
			for (int j = 0; j < i; j++)
				if (have[j])
					pkskey_free(&fresh[j]);
			return -1;
		}
		have[i] = r == 1;
	}
	if (!have[KEY_CURRENT] && !have[KEY_NEXT]) {
		snprintf(kr->error, sizeof kr->error,
		         "no pks.key (run pks-ctl init)");
		for (int i = 0; i < KEY_SLOTS; i++)
			if (have[i])
				pkskey_free(&fresh[i]);
		return -1;
	}
	unload(kr);
	for (int i = 0; i < KEY_SLOTS; i++) {
		kr->have[i] = have[i];
		if (have[i])
			kr->key[i] = fresh[i];
	}
	kr->mtime = st.st_mtim;
	return 0;
}

int keyring_open(struct keyring *kr, const char *dir, uid_t owner)
{
	memset(kr, 0, sizeof *kr);
	kr->owner = owner;
	kr->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kr->dirfd < 0)
		return fail_why(kr->error, sizeof kr->error, -1, "%s: %s", dir,
		                strerror(errno));
	if (load(kr) < 0) {
		close(kr->dirfd);
		kr->dirfd = -1;
		return -1;
	}
	return 0;
}

void keyring_close(struct keyring *kr)
{
	unload(kr);
	if (kr->dirfd >= 0)
		close(kr->dirfd);
	kr->dirfd = -1;
}

int keyring_refresh(struct keyring *kr)
{
	struct stat st;
	if (fstat(kr->dirfd, &st) < 0)
		return -1;
	if (st.st_mtim.tv_sec == kr->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == kr->mtime.tv_nsec)
		return 0;
	if (load(kr) < 0) {
		time_t now = time(NULL);
		if (now - kr->alerted >= 60) { /* retried at every use: say so
		                                * once a minute, not per request */
			kr->alerted = now;
			log_msg(SQLOG_ALERT, "PKS keys not reloaded, the old ones "
			        "stay in use: %s", kr->error);
		}
		return -1;
	}
	log_msg(SQLOG_INFO, "PKS keys reloaded");
	return 0;
}

static const struct pkskey *lookup(struct keyring *kr, uint32_t id)
{
	for (int i = 0; i < KEY_SLOTS; i++)
		if (kr->have[i] && kr->key[i].id == id)
			return &kr->key[i];
	return NULL;
}

const struct pkskey *keyring_find(struct keyring *kr, uint32_t id)
{
	const struct pkskey *k = lookup(kr, id);
	if (!k) {
		keyring_refresh(kr);
		k = lookup(kr, id);
	}
	return k;
}

const struct pkskey *keyring_sealer(struct keyring *kr)
{
	keyring_refresh(kr); /* on failure the keys in use stay */
	if (kr->have[KEY_NEXT])
		return &kr->key[KEY_NEXT];
	return kr->have[KEY_CURRENT] ? &kr->key[KEY_CURRENT] : NULL;
}
