/*
 * migrations - the PKS schema, versioned. Each pks/schema/NNN-name.sql is
 * embedded at build time (tools/embed-sql.sh) and applied once, in order,
 * by pks-ctl; the database records the versions applied.
 */
#ifndef SQ_MIGRATIONS_H
#define SQ_MIGRATIONS_H

struct migration {
	unsigned version;
	const char *name;
	const char *const *statements;  /* NULL-terminated */
};

/* Ends with an entry whose version is 0. */
extern const struct migration migrations[];

/* The version this build of pksd expects: the highest above. */
unsigned schema_version_expected(void);

#endif
