# secure-qmail / MyMail SES — top-level build.
#
# Compiler and linker commands come from conf-cc and conf-ld (first line of
# each), the instance root from conf-home; libraries from pkg-config.
#
#   make            build everything into $(BUILD)/
#   make check      unit + integration tests, then the same under ASan+UBSan
#   make check-asan only the sanitizer pass (in build-asan/)
#   make check-valgrind  the unit suites under valgrind memcheck
#   make bench      the benchmarks in bench/ (figures for the notes)
#   make fuzz       libFuzzer on every tests/fuzz target (clang, build-fuzz/)
#   make run        a local instance on loopback (see tools/run-instance)
#   make install    install under $(DESTDIR)$(HOME_DIR)
#   make deps       install missing Debian packages (as root)

BUILD    ?= build
SANITIZE ?= 0
# T='smtp.t smuggling': the integration scripts and scenarios to run
T        ?=

# Read lazily (=) so that "make deps" works before pkg-config exists.
CC_CMD   = $(shell sed -n 1p conf-cc)
LD_CMD   = $(shell sed -n 1p conf-ld)
HOME_DIR = $(shell sed -n 1p conf-home)

PKGS       = libssl libcrypto libcdb libcurl jansson libgcrypt mariadb \
             libevent_openssl libevent
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

# _GNU_SOURCE: memfd_create, pipe2, O_TMPFILE and friends.
CPPFLAGS = -D_GNU_SOURCE -Ilib -Ipks -Itools -Isecure-qmail -Iedh -Ipop3d \
           -I$(BUILD)/gen
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

# --- the shared library -------------------------------------------------
LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBSQ   = $(BUILD)/lib/libsq.a

# --- programs: in each program directory, the files named in *_MAINS hold
# main(); the directory's other .c files form its own library. ------------
PKS_MAINS  = pksd pks-ctl
PKS_LIBSRC = $(filter-out $(PKS_MAINS:%=pks/%.c),$(wildcard pks/*.c))
LIBPKS     = $(BUILD)/pks/libpks.a
PKS_PROGS  = $(PKS_MAINS:%=$(BUILD)/bin/%)
# secure-qmail/: every sq-*.c holds a main(); the rest is the library.
SQ_MAINS   = $(patsubst secure-qmail/%.c,%,$(wildcard secure-qmail/sq-*.c))
SQ_LIBSRC  = $(filter-out $(SQ_MAINS:%=secure-qmail/%.c),$(wildcard secure-qmail/*.c))
LIBSQMAIL  = $(BUILD)/secure-qmail/libsqmail.a
SQ_PROGS   = $(SQ_MAINS:%=$(BUILD)/bin/%)

# edh/: the Email Database Host, edhd and edh-ctl
EDH_MAINS  = edhd edh-ctl
EDH_LIBSRC = $(filter-out $(EDH_MAINS:%=edh/%.c),$(wildcard edh/*.c))
LIBEDH     = $(BUILD)/edh/libedh.a
EDH_PROGS  = $(EDH_MAINS:%=$(BUILD)/bin/%)

# pop3d/: the POP3 side: login, key unlocking, the mailbox
POP_MAINS  = sq-checkpw sq-popup sq-pop3d
POP_LIBSRC = $(filter-out $(POP_MAINS:%=pop3d/%.c),$(wildcard pop3d/*.c))
LIBPOP     = $(BUILD)/pop3d/libpop.a
POP_PROGS  = $(POP_MAINS:%=$(BUILD)/bin/%)

TOOLS_MAINS = sq-ca ses-adduser ses-passwd ses-deluser
TOOLS_PROGS = $(TOOLS_MAINS:%=$(BUILD)/bin/%)
TOOLS_LIBSRC = $(filter-out $(TOOLS_MAINS:%=tools/%.c),$(wildcard tools/*.c))
LIBTOOLS   = $(BUILD)/tools/libtools.a
# ses-adduser, ses-deluser and sq-queue again, with crash points for the
# kill -9 tests
TOOLS_CRASH = $(BUILD)/tests/helpers/ses-adduser-crash \
              $(BUILD)/tests/helpers/ses-deluser-crash
CRASH_BIN  = $(TOOLS_CRASH) $(BUILD)/tests/helpers/sq-queue-crash
PROGS      = $(PKS_PROGS) $(TOOLS_PROGS) $(SQ_PROGS) $(EDH_PROGS) $(POP_PROGS)
PROG_LIBS  = $(LIBPKS) $(LIBTOOLS) $(LIBEDH) $(LIBPOP) $(LIBSQMAIL) $(LIBSQ)

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

# --- benchmark helpers: bench/*.c (not installed) ----------------------------
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

GEN = $(BUILD)/gen/auto_home.h $(BUILD)/gen/auto_users.h $(BUILD)/gen/auto_split.h

.SECONDARY:

.PHONY: all deps check check-plain check-asan check-valgrind unit integration run install \
        clean fuzz fuzz-build bench
all: $(LIBSQ) $(LIBPKS) $(LIBEDH) $(LIBPOP) $(PROGS) $(UNIT_BIN) $(HELPER_BIN) $(REPLAY_BIN) \
     $(BENCH_BIN) $(CRASH_BIN)

deps:
	@sh tools/deps.sh

$(BUILD)/gen/auto_home.h: conf-home
	@mkdir -p $(@D)
	printf '#define SQ_HOME "%s"\n' "$(HOME_DIR)" > $@

$(BUILD)/gen/auto_split.h: conf-split
	@mkdir -p $(@D)
	printf '#define QUEUE_SPLIT %s\n' "$$(sed -n 1p conf-split)" > $@

# The role users of conf-users, by position (see the file's comment).
$(BUILD)/gen/auto_users.h: conf-users
	@mkdir -p $(@D)
	awk 'NF == 0 { exit } { n++; split("SMTPD LOG QUEUE SEND SEAL MAILDIR POP PKS EDH", r, " "); \
	     printf "#define SQ_USER_%s \"%s\"\n", r[n], $$1 }' conf-users > $@

# Every object depends on conf-cc and conf-ld: a changed compiler or linker
# command rebuilds (and so relinks) everything.
$(BUILD)/%.o: %.c $(GEN) conf-cc conf-ld
	@mkdir -p $(@D)
	$(COMPILE) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c $(GEN) conf-cc conf-ld
	@mkdir -p $(@D)
	$(COMPILE) $(CHECK_CFLAGS) -c $< -o $@

$(LIBSQ): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(LIBPKS): $(PKS_LIBSRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema.o
	rm -f $@
	ar rcs $@ $^

# The schema migrations, embedded in the programs that apply or check them.
$(BUILD)/gen/schema.c: tools/embed-sql.sh $(sort $(wildcard pks/schema/*.sql))
	@mkdir -p $(@D)
	sh tools/embed-sql.sh $(sort $(wildcard pks/schema/*.sql)) > $@.tmp
	mv $@.tmp $@

$(BUILD)/gen/schema.o: $(BUILD)/gen/schema.c
	$(COMPILE) -c $< -o $@

$(PKS_PROGS): $(BUILD)/bin/%: $(BUILD)/pks/%.o $(PROG_LIBS)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(LIBSQMAIL): $(SQ_LIBSRC:%.c=$(BUILD)/%.o)
	rm -f $@
	ar rcs $@ $^

$(SQ_PROGS): $(BUILD)/bin/%: $(BUILD)/secure-qmail/%.o $(LIBSQMAIL) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(PKG_LIBS)

# libedh uses the SMTP command and DATA parsers of libsqmail (LMTP).
$(LIBEDH): $(EDH_LIBSRC:%.c=$(BUILD)/%.o)
	rm -f $@
	ar rcs $@ $^

$(EDH_PROGS): $(BUILD)/bin/%: $(BUILD)/edh/%.o $(LIBEDH) $(LIBSQMAIL) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(LIBPOP): $(POP_LIBSRC:%.c=$(BUILD)/%.o)
	rm -f $@
	ar rcs $@ $^

$(POP_PROGS): $(BUILD)/bin/%: $(BUILD)/pop3d/%.o $(LIBPOP) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(LIBTOOLS): $(TOOLS_LIBSRC:%.c=$(BUILD)/%.o)
	rm -f $@
	ar rcs $@ $^

$(TOOLS_PROGS): $(BUILD)/bin/%: $(BUILD)/tools/%.o $(LIBTOOLS) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tools/provision-crash.o: tools/provision.c $(GEN)
	$(COMPILE) -DSQ_CRASH_POINTS -c $< -o $@

$(BUILD)/secure-qmail/sq-queue-crash.o: secure-qmail/sq-queue.c $(GEN)
	@mkdir -p $(@D)
	$(COMPILE) -DSQ_CRASH_POINTS -c $< -o $@

$(BUILD)/tests/helpers/sq-queue-crash: $(BUILD)/secure-qmail/sq-queue-crash.o \
		$(LIBSQMAIL) $(LIBSQ)
	@mkdir -p $(@D)
	$(LINK) -o $@ $^ $(PKG_LIBS)

$(TOOLS_CRASH): $(BUILD)/tests/helpers/%-crash: $(BUILD)/tools/%.o \
		$(BUILD)/tools/provision-crash.o $(LIBTOOLS) $(LIBSQ)
	$(LINK) -o $@ $^ $(PKG_LIBS)

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
	$(MAKE) check-plain
	$(MAKE) check-asan

check-plain: all
	[ -n "$(T)" ] || sh tests/run-unit.sh $(BUILD)
	T="$(T)" sh tests/run-integration.sh $(BUILD) $(SANITIZE)

check-asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 check-plain

check-valgrind: all
	sh tests/run-valgrind.sh $(BUILD)

unit: all
	sh tests/run-unit.sh $(BUILD)

integration: all
	T="$(T)" sh tests/run-integration.sh $(BUILD) $(SANITIZE)

# Each target runs FUZZ_SECONDS on a scratch copy of its corpus; a crash
# leaves its reproducer in build-fuzz/ and fails the run.
fuzz:
	$(MAKE) BUILD=build-fuzz FUZZ=1 fuzz-build
	for t in $(FUZZ_NAMES); do \
		rm -rf build-fuzz/corpus-$$t && mkdir -p build-fuzz/corpus-$$t && \
		cp tests/fuzz/corpus/$$t/* build-fuzz/corpus-$$t/ && \
		build-fuzz/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
			-max_len=65536 -artifact_prefix=build-fuzz/crash-$$t- \
			build-fuzz/corpus-$$t || exit 1; \
	done

fuzz-build: $(FUZZER_BIN)

bench: all
	python3 bench/pks-bench $(BUILD)
	python3 bench/smtp-bench $(BUILD)
	python3 bench/deliver-bench $(BUILD)
	python3 bench/pop3-bench $(BUILD)

run: deps all
	sh tools/run-instance $(BUILD)

install: all
	sh tools/install.sh "$(DESTDIR)" "$(HOME_DIR)" $(BUILD)

clean:
	rm -rf build build-asan build-fuzz

-include $(BENCH_BIN:=.d) $(LIB_OBJ:.o=.d) $(PKS_LIBSRC:%.c=$(BUILD)/%.d) \
         $(PKS_MAINS:%=$(BUILD)/pks/%.d) $(TOOLS_MAINS:%=$(BUILD)/tools/%.d) \
         $(TOOLS_LIBSRC:%.c=$(BUILD)/%.d) $(SQ_LIBSRC:%.c=$(BUILD)/%.d) \
         $(SQ_MAINS:%=$(BUILD)/secure-qmail/%.d) \
         $(EDH_LIBSRC:%.c=$(BUILD)/%.d) $(EDH_MAINS:%=$(BUILD)/edh/%.d) \
         $(POP_LIBSRC:%.c=$(BUILD)/%.d) $(POP_MAINS:%=$(BUILD)/pop3d/%.d) \
         $(BUILD)/secure-qmail/sq-queue-crash.d \
         $(UNIT_BIN:=.d) $(HELPER_BIN:=.d) $(UNIT_MAIN:.o=.d) \
         $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/fuzz_%.d)
