# secure-qmail / MyMail SES — top-level build.
#
# Compiler and linker commands come from conf-cc and conf-ld (first line of
# each), the instance root from conf-home; libraries from pkg-config.
#
#   make            build everything into $(BUILD)/
#   make check      unit + integration tests, then the same under ASan+UBSan
#   make check-asan only the sanitizer pass (in build-asan/)
#   make check-valgrind  the unit suites under valgrind memcheck
#   make check-mutations break each promise on purpose; its test must fail
#   make bench      the benchmarks in bench/ (figures for the notes)
#   make bench-peers  ours beside Postfix and Dovecot on one workload (root)
#   make fuzz       libFuzzer on every tests/fuzz target (clang, build-fuzz/)
#   make fuzz-long  the same for 10 million runs each, corpus merged back
#   make run        a local instance on loopback (see tools/run-instance)
#   make install    install under $(DESTDIR)$(HOME_DIR), pages under conf-man
#   make deps       install missing Debian packages (as root)

BUILD    ?= build
SANITIZE ?= 0
# T='smtp.t smuggling': the integration scripts and scenarios to run
T        ?=

# A build on a machine without the libraries stops here with one line that
# names the Debian packages to install, not with a cascade of compiler
# errors. Goals that install them first (deps, check, run) skip it.
ifeq ($(filter deps check run clean,$(MAKECMDGOALS)),)
MISSING_PKGS := $(shell sh tools/deps.sh --build-missing)
ifneq ($(strip $(MISSING_PKGS)),)
$(error missing Debian packages:$(MISSING_PKGS); run 'make deps' as root to install them)
endif
endif

# Read lazily (=) so that "make deps" works before pkg-config exists.
CC_CMD   = $(shell sed -n 1p conf-cc)
LD_CMD   = $(shell sed -n 1p conf-ld)
HOME_DIR = $(shell sed -n 1p conf-home)
MAN_DIR  = $(shell sed -n 1p conf-man)

PKGS       = libssl libcrypto libcdb libcurl jansson libgcrypt mariadb \
             libevent_openssl libevent
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

# Each component compiles with the include paths of lib/ and of itself
# only, so that one component cannot include another's header; tests and
# benchmarks see every component. lib/ sees only lib/.
COMPONENTS = secure-qmail pks edh pop3d admin
INC        = -Ilib
$(BUILD)/lib/%.o:          INC = -Ilib
$(BUILD)/secure-qmail/%.o: INC = -Ilib -Isecure-qmail
$(BUILD)/pks/%.o:          INC = -Ilib -Ipks
$(BUILD)/gen/schema.o:     INC = -Ilib -Ipks
$(BUILD)/edh/%.o:          INC = -Ilib -Iedh
$(BUILD)/pop3d/%.o:        INC = -Ilib -Ipop3d
$(BUILD)/admin/%.o:        INC = -Ilib -Iadmin
$(BUILD)/tests/%.o:        INC = -Ilib $(COMPONENTS:%=-I%)
$(BUILD)/bench/%.o:        INC = -Ilib $(COMPONENTS:%=-I%)
# _GNU_SOURCE: memfd_create, pipe2, O_TMPFILE and friends.
CPPFLAGS = -D_GNU_SOURCE $(INC) -I$(BUILD)/gen
ifeq ($(FUZZ),1)
# make fuzz: clang with libFuzzer's coverage on every object.
CC_CMD = clang $(wordlist 2,999,$(shell sed -n 1p conf-cc))
LD_CMD = clang $(wordlist 2,999,$(shell sed -n 1p conf-ld))
SAN_CFLAGS  = -U_FORTIFY_SOURCE -O1 -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LDFLAGS = -fsanitize=address,undefined
else ifeq ($(SANITIZE),1)
SAN_CFLAGS  = -U_FORTIFY_SOURCE -O1 -fsanitize=address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LDFLAGS = -fsanitize=address,undefined
# Process-lifetime pools of libgcrypt are not leaks (tests/lsan.supp).
export LSAN_OPTIONS = suppressions=$(CURDIR)/tests/lsan.supp
endif

COMPILE = $(CC_CMD) $(SAN_CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -MMD -MP
LINK    = $(LD_CMD) $(SAN_LDFLAGS)

# --- the shared library, by layer (HACKING.md): util has no OpenSSL;
# crypto, mail, net and client build on it. One archive: each program
# takes only the objects it calls. -----------------------------------------
LIB_LAYERS = util crypto mail net client
LIB_SRC = $(foreach l,$(LIB_LAYERS),$(wildcard lib/$l/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBSQ   = $(BUILD)/lib/libsq.a

# --- components: in each, the files named in *_MAINS hold main(); the
# component's other .c files form its own library. -------------------------
# secure-qmail/, by privilege group: receive/ (sqmaild), queue/ (sealing and
# the queue's owner), deliver/ (scheduler and delivery). Every sq-*.c holds
# a main().
SQ_SRC     = $(wildcard secure-qmail/*/*.c)
SQ_MAINSRC = $(wildcard secure-qmail/*/sq-*.c)
SQ_MAINS   = $(notdir $(SQ_MAINSRC:.c=))
SQ_LIBSRC  = $(filter-out $(SQ_MAINSRC),$(SQ_SRC))
LIBSQMAIL  = $(BUILD)/secure-qmail/libsqmail.a
SQ_PROGS   = $(SQ_MAINS:%=$(BUILD)/bin/%)

# pks/: the Paired Key Store, pksd and pks-ctl
PKS_MAINS  = pksd pks-ctl
PKS_LIBSRC = $(filter-out $(PKS_MAINS:%=pks/%.c),$(wildcard pks/*.c))
LIBPKS     = $(BUILD)/pks/libpks.a
PKS_PROGS  = $(PKS_MAINS:%=$(BUILD)/bin/%)

# edh/: the Email Database Host, edhd and edh-ctl
EDH_MAINS  = edhd edh-ctl
EDH_LIBSRC = $(filter-out $(EDH_MAINS:%=edh/%.c),$(wildcard edh/*.c))
LIBEDH     = $(BUILD)/edh/libedh.a
EDH_PROGS  = $(EDH_MAINS:%=$(BUILD)/bin/%)

# pop3d/: the POP3 side: login, key unlocking, the mailbox
POP_MAINS  = sq-checkpw sq-popup sq-pop3d sq-pdkcache sq-pkslogin
POP_LIBSRC = $(filter-out $(POP_MAINS:%=pop3d/%.c),$(wildcard pop3d/*.c))
LIBPOP     = $(BUILD)/pop3d/libpop.a
POP_PROGS  = $(POP_MAINS:%=$(BUILD)/bin/%)

# admin/: the installed administration programs: the instance CA and
# provisioning (tools/ holds only the development scripts)
ADMIN_MAINS  = sq-ca ses-adduser ses-passwd ses-deluser
ADMIN_LIBSRC = $(filter-out $(ADMIN_MAINS:%=admin/%.c),$(wildcard admin/*.c))
LIBADMIN     = $(BUILD)/admin/libadmin.a
ADMIN_PROGS  = $(ADMIN_MAINS:%=$(BUILD)/bin/%)

# ses-adduser, ses-deluser, sq-queue and sq-send again, with crash points
# for the kill -9 tests
ADMIN_CRASH = $(BUILD)/tests/helpers/ses-adduser-crash \
              $(BUILD)/tests/helpers/ses-deluser-crash
SQ_CRASH   = $(BUILD)/tests/helpers/sq-queue-crash \
             $(BUILD)/tests/helpers/sq-send-crash
CRASH_BIN  = $(ADMIN_CRASH) $(SQ_CRASH)
PROGS      = $(PKS_PROGS) $(ADMIN_PROGS) $(SQ_PROGS) $(EDH_PROGS) $(POP_PROGS)
PROG_LIBS  = $(LIBPKS) $(LIBADMIN) $(LIBEDH) $(LIBPOP) $(LIBSQMAIL) $(LIBSQ)

# --- the system libraries each program links: only those it calls, named
# here rather than left to the linker's --as-needed (tests/integration/
# build.t checks that none is unused). pkg-config names. ------------------
PKGS_sq-smtpd    = libssl libcrypto libcdb
PKGS_sq-send     = libcrypto
PKGS_sq-lspawn   = libssl libcrypto libcdb libcurl jansson
PKGS_sq-sealerd  = libcrypto libcurl jansson
PKGS_pksd        = libssl libcrypto jansson libgcrypt mariadb libevent_openssl libevent
PKGS_pks-ctl     = libcrypto libgcrypt mariadb
PKGS_edhd        = libssl libcrypto
PKGS_edh-ctl     = libcrypto
PKGS_sq-popup    = libssl libcrypto libcdb
PKGS_sq-checkpw  = libcrypto jansson
PKGS_sq-pop3d    = libssl libcrypto
PKGS_sq-pdkcache = libcrypto
PKGS_sq-pkslogin = libcrypto libcurl jansson
PKGS_sq-ca       = libcrypto
PKGS_ses-adduser = libcrypto libcdb libcurl jansson
PKGS_ses-passwd  = $(PKGS_ses-adduser)
PKGS_ses-deluser = $(PKGS_ses-adduser)
# sq-seal, sq-queue, sq-clean, sq-qread, sq-qstat, sq-start: libc only.
libs_of = $(if $(strip $(PKGS_$(1))),$(shell pkg-config --libs $(PKGS_$(1))))

# --- unit tests: tests/unit/check_<module>.c, one binary per module -------
UNIT_SRC  = $(wildcard tests/unit/check_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_MAIN = $(BUILD)/tests/unit/runner.o $(BUILD)/tests/unit/testutil.o

# --- test helpers: small programs the integration tests drive -------------
HELPER_SRC = $(wildcard tests/helpers/*.c)
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

# --- fuzz targets: tests/fuzz/fuzz_<name>.c ---------------------------------
# Replayed over their corpus by make check; fuzzed by make fuzz (clang).
FUZZ_SRC    = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES  = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
REPLAY_BIN  = $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay_%)
FUZZER_BIN  = $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz_%)
FUZZ_SECONDS ?= 30
# make fuzz-long: per target, whichever comes first; FUZZ_TARGETS='a b'
# runs only those
FUZZ_LONG_RUNS    ?= 10000000
FUZZ_LONG_SECONDS ?= 900
FUZZ_TARGETS      ?=

# --- benchmark helpers: bench/*.c (not installed) ----------------------------
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

GEN = $(BUILD)/gen/auto_home.h $(BUILD)/gen/auto_users.h $(BUILD)/gen/auto_split.h

.SECONDARY:

.PHONY: all deps check check-plain check-asan check-valgrind check-mutations unit integration run install \
        clean fuzz fuzz-long fuzz-build bench bench-peers
all: $(LIBSQ) $(PROG_LIBS) $(PROGS) $(UNIT_BIN) $(HELPER_BIN) $(REPLAY_BIN) \
     $(BENCH_BIN) $(CRASH_BIN)

deps:
	@sh tools/deps.sh

$(BUILD)/gen/auto_home.h: conf-home
	@mkdir -p $(@D)
	printf '#define SQ_HOME "%s"\n' "$(HOME_DIR)" > $@

$(BUILD)/gen/auto_split.h: conf-split
	@mkdir -p $(@D)
	printf '#define QUEUE_SPLIT %s\n' "$$(sed -n 1p conf-split)" > $@

# The role users of conf-users (tools/role-users says which line is which).
$(BUILD)/gen/auto_users.h: conf-users tools/role-users
	@mkdir -p $(@D)
	sh tools/role-users conf-users > $@.tmp
	awk '{ printf "#define SQ_USER_%s \"%s\"\n", $$1, $$2 }' $@.tmp > $@
	rm -f $@.tmp

# Every object depends on conf-cc and conf-ld: a changed compiler or linker
# command rebuilds (and so relinks) everything.
$(BUILD)/%.o: %.c $(GEN) conf-cc conf-ld
	@mkdir -p $(@D)
	$(COMPILE) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c $(GEN) conf-cc conf-ld
	@mkdir -p $(@D)
	$(COMPILE) $(CHECK_CFLAGS) -c $< -o $@

# An archive is written again at every make, from its members of now, and
# replaced only when it differs (ar's deterministic mode: no dates): a
# module that moved away leaves no stale member behind, and nothing
# relinks when nothing changed.
ARCHIVE = rm -f $@.tmp && ar rcsD $@.tmp $(filter %.o,$^) && \
          { cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@; }
.PHONY: FORCE
$(LIBSQ) $(PROG_LIBS): FORCE

$(LIBSQ): $(LIB_OBJ)
	$(ARCHIVE)

$(LIBPKS): $(PKS_LIBSRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema.o
	$(ARCHIVE)

# The schema migrations, embedded in the programs that apply or check them.
$(BUILD)/gen/schema.c: tools/embed-sql.sh $(sort $(wildcard pks/schema/*.sql))
	@mkdir -p $(@D)
	sh tools/embed-sql.sh $(sort $(wildcard pks/schema/*.sql)) > $@.tmp
	mv $@.tmp $@

$(BUILD)/gen/schema.o: $(BUILD)/gen/schema.c
	$(COMPILE) -c $< -o $@

$(PKS_PROGS): $(BUILD)/bin/%: $(BUILD)/pks/%.o $(LIBPKS) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(call libs_of,$*)

$(LIBSQMAIL): $(SQ_LIBSRC:%.c=$(BUILD)/%.o)
	$(ARCHIVE)

# secure-qmail's mains sit in its group folders: each program's object
# is named by a rule of its own; objects link before the archives.
$(foreach m,$(SQ_MAINSRC),$(eval $(BUILD)/bin/$(notdir $(m:.c=)): $(BUILD)/$(m:.c=.o)))
$(SQ_PROGS): $(BUILD)/bin/%: $(LIBSQMAIL) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(call libs_of,$*)

$(LIBEDH): $(EDH_LIBSRC:%.c=$(BUILD)/%.o)
	$(ARCHIVE)

$(EDH_PROGS): $(BUILD)/bin/%: $(BUILD)/edh/%.o $(LIBEDH) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(call libs_of,$*)

$(LIBPOP): $(POP_LIBSRC:%.c=$(BUILD)/%.o)
	$(ARCHIVE)

$(POP_PROGS): $(BUILD)/bin/%: $(BUILD)/pop3d/%.o $(LIBPOP) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(call libs_of,$*)

$(LIBADMIN): $(ADMIN_LIBSRC:%.c=$(BUILD)/%.o)
	$(ARCHIVE)

$(ADMIN_PROGS): $(BUILD)/bin/%: $(BUILD)/admin/%.o $(LIBADMIN) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(call libs_of,$*)

$(BUILD)/admin/provision-crash.o: admin/provision.c $(GEN)
	$(COMPILE) -DSQ_CRASH_POINTS -c $< -o $@

$(BUILD)/secure-qmail/%-crash.o: secure-qmail/%.c $(GEN)
	@mkdir -p $(@D)
	$(COMPILE) -DSQ_CRASH_POINTS -c $< -o $@

$(BUILD)/tests/helpers/sq-queue-crash: $(BUILD)/secure-qmail/queue/sq-queue-crash.o
$(BUILD)/tests/helpers/sq-send-crash: $(BUILD)/secure-qmail/deliver/sq-send-crash.o
$(SQ_CRASH): $(BUILD)/tests/helpers/%-crash: $(LIBSQMAIL) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(call libs_of,$*)

$(ADMIN_CRASH): $(BUILD)/tests/helpers/%-crash: $(BUILD)/admin/%.o \
		$(BUILD)/admin/provision-crash.o $(LIBADMIN) $(LIBSQ)
	$(LINK) -o $@ $^ $(call libs_of,$*)

$(BUILD)/tests/unit/check_%: $(BUILD)/tests/unit/check_%.o $(UNIT_MAIN) $(PROG_LIBS)
	$(LINK) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(PROG_LIBS)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o $(PROG_LIBS)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o \
		$(BUILD)/tests/fuzz/replay.o $(PROG_LIBS)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(PROG_LIBS)
	$(LINK) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

# --- tests ------------------------------------------------------------------
check: deps
	sh tests/mutations-apply.sh
	$(MAKE) check-plain
	$(MAKE) check-asan

check-plain: all
	[ -n "$(T)" ] || sh tests/run-unit.sh $(BUILD)
	T="$(T)" sh tests/run-integration.sh $(BUILD) $(SANITIZE)

check-asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 check-plain

check-valgrind: all
	sh tests/run-valgrind.sh $(BUILD)

# Each tests/mutations/*.patch breaks a promise; its test must then fail
# (M='name ...' runs some). Builds a scratch copy: not part of make check.
check-mutations:
	sh tests/run-mutations.sh $(M)

unit: all
	sh tests/run-unit.sh $(BUILD)

integration: all
	T="$(T)" sh tests/run-integration.sh $(BUILD) $(SANITIZE)

# Each target runs FUZZ_SECONDS on a scratch copy of its corpus; a crash
# leaves its reproducer in build-fuzz/ and fails the run. The targets'
# own stderr (the programs' log lines) is closed: libFuzzer's reports
# and the sanitizers' still come out.
fuzz:
	$(MAKE) BUILD=build-fuzz FUZZ=1 fuzz-build
	for t in $(FUZZ_NAMES); do \
		rm -rf build-fuzz/corpus-$$t && mkdir -p build-fuzz/corpus-$$t && \
		cp tests/fuzz/corpus/$$t/* build-fuzz/corpus-$$t/ && \
		build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=65536 -close_fd_mask=2 \
			-artifact_prefix=build-fuzz/crash-$$t- \
			build-fuzz/corpus-$$t || exit 1; \
	done

# Every target (or FUZZ_TARGETS) for FUZZ_LONG_RUNS executions or
# FUZZ_LONG_SECONDS, whichever first; what adds coverage is merged into
# tests/fuzz/corpus/ (commit it); a table of executions and coverage.
fuzz-long:
	$(MAKE) BUILD=build-fuzz FUZZ=1 fuzz-build
	FUZZ_LONG_RUNS=$(FUZZ_LONG_RUNS) FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) \
		sh tests/fuzz/fuzz-long.sh build-fuzz $(FUZZ_TARGETS)

fuzz-build: $(FUZZER_BIN)

bench: all
	python3 bench/pks-bench $(BUILD)
	python3 bench/smtp-bench $(BUILD)
	python3 bench/deliver-bench $(BUILD)
	python3 bench/pop3-bench $(BUILD)
	python3 bench/guess-rate $(BUILD)

# Not part of bench: as root, it installs Postfix and Dovecot from Debian's
# packages and runs private instances of them (bench/bench-peers).
bench-peers: all
	python3 bench/bench-peers $(BUILD)

run: deps
	$(MAKE) all
	sh tools/run-instance $(BUILD)

install: all
	sh tools/install.sh "$(DESTDIR)" "$(HOME_DIR)" $(BUILD) "$(MAN_DIR)"

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
