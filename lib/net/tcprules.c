/*
 * tcprules - tcpserver's access rules. See tcprules.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/cdbfile.h"
#include "net/tcprules.h"

/* Copies the "+NAME=value\0" entries of a rule into env as "NAME=value\0";
 * 0, or -1 (EPROTO) for an entry that is not one. */
static int variables(const struct sbuf *rule, struct sbuf *env)
{
	size_t i = 0;
	while (i < rule->len) {
		const char *e = rule->s + i;
		const char *nul = memchr(e, '\0', rule->len - i);
		const char *eq = nul ? memchr(e, '=', (size_t)(nul - e)) : NULL;
		if (!nul || *e != '+' || !eq || eq == e + 1) {
			errno = EPROTO;
			return -1;
		}
		if (sbuf_put(env, e + 1, (size_t)(nul - e)) < 0)
			return -1;
		i += (size_t)(nul - e) + 1;
	}
	return 0;
}

/* The first rule found for ip's keys: 1 (in rule), 0 none, -1 error. */
static int find(struct cdb *db, const char *ip, struct sbuf *rule)
{
	char sep = strchr(ip, ':') ? ':' : '.';
	size_t len = strlen(ip);
	int r = cdbfile_find(db, ip, len, rule);
	while (r == 0 && len > 0) {
		while (len > 0 && ip[len - 1] != sep)
			len--;
		if (len > 0) /* "1.2.3." then "1.2." then "1." */
			r = cdbfile_find(db, ip, len--, rule);
	}
	return r ? r : cdbfile_find(db, "", 0, rule);
}

enum tcprules_verdict tcprules_check(const char *path, const char *ip,
                                     struct sbuf *env)
{
	struct cdb db;
	struct sbuf rule;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return TCPRULES_ERROR;
	if (cdb_init(&db, fd) < 0) {
		close(fd);
		errno = EPROTO;
		return TCPRULES_ERROR;
	}
	sbuf_init(&rule, TCPRULES_VALUE_MAX);
	sbuf_truncate(env, 0);
	enum tcprules_verdict v = TCPRULES_ERROR;
	int r = find(&db, ip, &rule);
	if (r == 0)
		v = TCPRULES_DENY; /* no rule at all, not even a default */
	else if (r > 0 && rule.len && rule.s[0] == 'D')
		v = TCPRULES_DENY;
	else if (r > 0 && variables(&rule, env) == 0)
		v = TCPRULES_ALLOW;
	int saved = errno;
	sbuf_free(&rule);
	cdb_free(&db);
	close(fd);
	errno = saved;
	return v;
}
