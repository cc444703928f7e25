# webjobs — a WebJobs host for Linux. See README.md.
#
#   make            build build/webjobs (gcc, optimised)
#   make run        install what is missing, build, start the host
#   make check      install what is missing, build, run every test
#   make bench      run the benchmarks (not part of check)

CC       ?= gcc
ASAN_CC  ?= clang
PREFIX   ?= /usr/local
VERSION  := 0.1.0

PKGS     := libuv libmicrohttpd jansson libcrypt
# libarchive: headers only; the library is loaded on first use (src/larchive.c).
ARCHIVE_CFLAGS := $(shell pkg-config --cflags libarchive 2>/dev/null)
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2 -Wvla -Wpointer-arith \
            -Wno-unused-parameter
CPPFLAGS := -DWEBJOBS_VERSION='"$(VERSION)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c17 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(ARCHIVE_CFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldl -lpthread

ASAN_FLAGS := -std=c17 $(WARN) -O1 -g -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(ARCHIVE_CFLAGS)

SRCS     := $(wildcard src/*.c)
HDRS     := $(wildcard src/*.h)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
# The dashboard's files (web/), compiled into the binary as build/gen/assets.c.
WEB      := $(sort $(wildcard web/*))
OBJS     := $(SRCS:src/%.c=build/obj/%.o) build/obj/assets.o
ASAN_OBJS:= $(SRCS:src/%.c=build/asan/obj/%.o) build/asan/obj/assets.o
ASAN_LIB := $(filter-out build/asan/obj/main.o,$(ASAN_OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/unit/%)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)

.PHONY: all asan unit fuzz deps run check bench torture chaos scaleout clean install
all: build/webjobs

deps:
	@scripts/install-deps

build/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) -O2 -std=c17 $(WARN) -o $@ $<

build/gen/%.gz: web/%
	@mkdir -p $(@D)
	gzip -9nc $< > $@

build/gen/assets.c: build/embed $(WEB) $(WEB:web/%=build/gen/%.gz)
	build/embed $@ $(foreach f,$(WEB),$(notdir $f) $f build/gen/$(notdir $f).gz)

build/obj/assets.o: build/gen/assets.c src/dashboard.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Isrc -Wno-missing-prototypes -c -o $@ $<

build/asan/obj/assets.o: build/gen/assets.c src/dashboard.h
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_FLAGS) -Isrc -c -o $@ $<

build/fuzz/obj/assets.o: build/gen/assets.c src/dashboard.h
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_FLAGS) -fsanitize=fuzzer-no-link -Isrc -c -o $@ $<

build/webjobs: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/asan/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build/asan/webjobs: $(ASAN_OBJS)
	$(ASAN_CC) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) $(LDLIBS)

asan: build/asan/webjobs

# Unit tests link the sanitizer build as an archive: only the objects a
# test needs are pulled in, so a test may define a module's functions
# itself (test_machines.c fakes src/child.c).
ASAN_AR := build/asan/libwebjobs.a

$(ASAN_AR): $(ASAN_LIB)
	rm -f $@
	ar rcs $@ $(ASAN_LIB)

# The state machines' test wraps the reading of a job's folder, to make a
# change at the moment it has been read.
build/unit/test_machines: UNIT_LDFLAGS := -Wl,--wrap=job_scan_bin

build/unit/%: tests/unit/%.c $(ASAN_AR) $(HDRS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_FLAGS) -Isrc -D_GNU_SOURCE -DVECTORS=\"tests/unit/cron_vectors.txt\" -Wno-missing-prototypes \
		$(UNIT_LDFLAGS) -o $@ $< $(ASAN_AR) $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)

# The library is compiled once with fuzzer coverage, then linked into each
# target (compiling every source per target took minutes).
FUZZ_OBJS := $(LIB_SRCS:src/%.c=build/fuzz/obj/%.o) build/fuzz/obj/assets.o

build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/%: fuzz/%.c $(FUZZ_OBJS) $(HDRS) $(wildcard fuzz/*.h)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CPPFLAGS) $(ASAN_FLAGS) -fsanitize=fuzzer -Isrc \
		-Wno-missing-prototypes -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

fuzz: $(FUZZ_BINS)

run: deps build/webjobs
	@scripts/run-host

check: deps
	@$(MAKE) --no-print-directory -j2 build/webjobs build/asan/webjobs unit fuzz
	@tests/check.sh

bench: build/webjobs
	@scripts/install-deps --bench
	@bench/api
	@bench/runs
	@bench/continuous
	@bench/schedules
	@bench/vfs
	@bench/load
	@bench/follow
	@bench/runcontrol
	@bench/dashboard

# The crash torture (200 SIGKILLs), then the order-of-events torture (chaos).
torture: deps build/asan/webjobs
	WEBJOBS_BIN=build/asan/webjobs tests/torture/torture.py --kills 200
	WEBJOBS_BIN=build/asan/webjobs tests/torture/chaos.py --seconds $${CHAOS_SECONDS:-1800}

# Random operations and disk edits in any order for 30 minutes against the
# sanitizer build, then SIGTERM (exit 0, no process left). CHAOS_SECONDS=N for
# another length.
# The scale-out suite on a GlusterFS rig (root and FUSE; docs/SCALE-OUT.md).
scaleout: deps build/webjobs
	WEBJOBS_SCALEOUT_MINUTES=$${WEBJOBS_SCALEOUT_MINUTES:-10} /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/scaleout

chaos: deps build/asan/webjobs
	WEBJOBS_BIN=build/asan/webjobs tests/torture/chaos.py --seconds $${CHAOS_SECONDS:-1800}

install: build/webjobs
	install -D -m 0755 build/webjobs $(DESTDIR)$(PREFIX)/bin/webjobs
	install -D -m 0644 doc/webjobs.1 $(DESTDIR)$(PREFIX)/share/man/man1/webjobs.1
	install -D -m 0644 contrib/webjobs.service $(DESTDIR)/lib/systemd/system/webjobs.service

clean:
	rm -rf build
