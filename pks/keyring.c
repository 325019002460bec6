/*
 * keyring - the PKS keys in use. See keyring.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyring.h"

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

static int load(struct keyring *kr)
{
	struct stat st;
	unload(kr);
	if (fstat(kr->dirfd, &st) < 0)
		return -1;
	kr->mtime = st.st_mtim;
	for (int i = 0; i < KEY_SLOTS; i++) {
		int r = pkskey_load(&kr->key[i], kr->dirfd, keyring_files[i]);
		if (r < 0) {
			snprintf(kr->error, sizeof kr->error, "%s: %s",
			         keyring_files[i], errno == EPERM
			         ? "readable by group or others" : strerror(errno));
			unload(kr);
			return -1;
		}
		kr->have[i] = r == 1;
	}
	if (!kr->have[KEY_CURRENT] && !kr->have[KEY_NEXT]) {
		snprintf(kr->error, sizeof kr->error,
		         "no pks.key (run pks-ctl init)");
		return -1;
	}
	return 0;
}

int keyring_open(struct keyring *kr, const char *dir)
{
	memset(kr, 0, sizeof *kr);
	kr->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kr->dirfd < 0) {
		snprintf(kr->error, sizeof kr->error, "%s: %s", dir,
		         strerror(errno));
		return -1;
	}
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
	return load(kr);
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
	if (!k && keyring_refresh(kr) == 0)
		k = lookup(kr, id);
	return k;
}

const struct pkskey *keyring_sealer(struct keyring *kr)
{
	if (keyring_refresh(kr) < 0)
		return NULL;
	if (kr->have[KEY_NEXT])
		return &kr->key[KEY_NEXT];
	return kr->have[KEY_CURRENT] ? &kr->key[KEY_CURRENT] : NULL;
}
