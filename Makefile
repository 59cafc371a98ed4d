# mallocsim - build the native core, set up the Python driver, run and test.
#
#   make          build the C libraries into driver/mallocsim/_native/
#   make run      set up everything and replay the bundled traces (the main job)
#   make test     set up everything and run the whole test suite
#   make bench    benchmark the policies against glibc on the shared traces
#   make bench-scale  parse and replay a generated 10-million-op trace: speed, memory
#   make bench-grade  grade one submission 10 times: every score, and their spread
#   make bench-class  grade a generated class of 300 submissions: wall time, cost, -j scaling
#   make bench-programs  benchmark programs (larson, xmalloc, cache-*, ...) under glibc, ours,
#                 jemalloc, mimalloc, tcmalloc: time, peak RSS, ratios; build/bench-programs.png
#   make bench-sandbox  what the sandbox costs an honest mm.c on the CS:APP traces
#   make bench-clock  how far the clock confirms honest allocators' instruction counts
#   make c-test   the C tests under AddressSanitizer and UBSan
#   make fuzz     a short libFuzzer run over op sequences for each policy
#   make format   clang-format the C sources (format-check verifies)
#   make lint     ruff on the Python sources
#
# Every built-in policy is c/src/<name>.c and becomes $(NATIVE_DIR)/libmm-<name>.so (and the
# drop-in libmallocsim-<name>.so): adding a policy to POLICIES is all it takes for the driver
# to offer it by name.

POLICIES   := implicit explicit segfit
CC         ?= cc
CSTD       := -std=c11 -D_GNU_SOURCE
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes $(if $(CI),-Werror)
# Release builds leave assertions out (NDEBUG); the C tests and fuzzers build without it, so
# every precondition is checked there.
OPT        ?= -O2 -g -DNDEBUG
CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) -fPIC -Ic/include -Ic/src
NATIVE_DIR ?= driver/mallocsim/_native
BUILD_DIR  ?= build
PYTHON     ?= python3
VENV       := .venv
VPY        := $(VENV)/bin/python

HEAP_LIB   := $(NATIVE_DIR)/libmsheap.so
CORE_LIB   := $(NATIVE_DIR)/libmscore.so
SECCOMP_HEADER := /usr/include/seccomp.h
# A student's -m32 build (the CS:APP handout's Makefile builds -m32) runs in a 32-bit agent and is
# counted by a 32-bit mscount: the engine built again with -m32, in its own folder. It needs
# Debian's gcc-multilib and the i386 libseccomp (tools/system-deps.sh installs both).
NATIVE32_DIR := $(NATIVE_DIR)/i386
SECCOMP32_LIB := /usr/lib/i386-linux-gnu/libseccomp.so
ENGINE_DIRS := $(NATIVE_DIR) $(NATIVE32_DIR)
$(NATIVE32_DIR)/%: ARCH := -m32
POLICY_LIBS := $(POLICIES:%=$(NATIVE_DIR)/libmm-%.so)
HEADERS    := $(wildcard c/include/*.h)
# The labs' own mm.h and memlib.h, one folder per lab, and the adapter the driver appends to a
# student's mm.c: shipped beside the headers above, in include/labs/.
LAB_HEADERS := $(wildcard c/include/labs/*.h c/include/labs/*/*.h)
# And the linker script the build adds for it (ms_lab_constructors.ld).
LAB_SCRIPTS := $(wildcard c/include/labs/*.ld)
SRC_HEADERS := $(wildcard c/src/*.h)
CORE_SRCS  := c/src/trace.c c/src/replay.c c/src/payload_pattern.c c/src/allocator.c \
              c/src/interval_tree.c c/src/granule_map.c \
              c/src/remote.c c/src/data_tail.c \
              c/src/sandbox.c
# The drop-in malloc, one library per policy; libmallocsim.so is the one chosen here.
DROPIN_POLICY ?= segfit
DROPIN_LIB := $(NATIVE_DIR)/libmallocsim.so
DROPIN_LIBS := $(POLICIES:%=$(NATIVE_DIR)/libmallocsim-%.so)
RECORD_LIB := $(NATIVE_DIR)/libmsrecord.so
UNSEEN_LIB := $(NATIVE_DIR)/libmsunseen.so
DROPIN_SHIM := c/src/dropin.c c/src/arena.c c/src/address_table.c c/src/thread_cache.c \
               c/src/depot.c c/src/cxx_new.c c/src/address_limit.c c/src/deep_binding.c
# The drop-in is built with link-time optimisation: malloc and free then inline the thread cache's
# fast paths (thread_cache.c) instead of calling them in another file, and keep fewer registers
# (callgrind: churn 347.0 M -> 317.3 M instructions, larson 224 -> 204 an op; docs/dropin.md).
# Empty it (make DROPIN_LTO=) for a toolchain without LTO.
DROPIN_LTO ?= -flto=auto

.PHONY: all native run test bench bench-scale bench-grade bench-class bench-sandbox bench-clock bench-programs bench-frontier c-test fuzz format format-check lint clean venv system-deps
all: native

native: $(HEAP_LIB) $(CORE_LIB) $(POLICY_LIBS) $(DROPIN_LIBS) $(DROPIN_LIB) $(RECORD_LIB) $(UNSEEN_LIB) $(NATIVE_DIR)/msconfine $(NATIVE_DIR)/include/.stamp \
	$(ENGINE_DIRS:%=%/mscount) $(ENGINE_DIRS:%=%/msagent)

# The lab folders are replaced whole, so that a header removed here is gone there too.
$(NATIVE_DIR)/include/.stamp: $(HEADERS) $(LAB_HEADERS) $(LAB_SCRIPTS)
	@mkdir -p $(NATIVE_DIR)/include
	cp $(HEADERS) $(NATIVE_DIR)/include/
	rm -rf $(NATIVE_DIR)/include/labs
	cp -R c/include/labs $(NATIVE_DIR)/include/labs
	@touch $@

# Every library is linked to a temporary name and renamed into place, never
# rewritten in place (the linker reuses the file): a process running on the
# old one would crash with SIGBUS when its pages changed under it.

# The heap is its own library so that the engine and every allocator share
# one instance of it, whatever order they are loaded in; it also defines the globals the labs'
# drivers define for students' files (driver_globals.c) and what a student's call of a forbidden
# function reaches (forbidden_calls.c). The engine's rules serve both builds
# ($* is the folder; ARCH is -m32 in the 32-bit one).
HEAP_SRCS := c/src/memlib.c c/src/driver_globals.c c/src/forbidden_calls.c
$(ENGINE_DIRS:%=%/libmsheap.so): %/libmsheap.so: $(HEAP_SRCS) $(HEADERS)
	@mkdir -p $*
	$(CC) $(ARCH) $(CFLAGS_ALL) -shared -o $@.tmp $(HEAP_SRCS) \
		&& mv -f $@.tmp $@

# The sandbox links libseccomp, whose header comes from Debian's libseccomp-dev.
$(SECCOMP_HEADER) $(SECCOMP32_LIB):
	@sh tools/system-deps.sh

# Bound at load (-z now): its import slots are read-only before a submission's code runs, so
# that code cannot point the sandbox's handler's `signal` and `raise` elsewhere once sealed
# (red-team pass 18; a constructor, which runs before the seal, still can: isolate.py holds a
# denied call as the verdict even when the process lives on).
$(ENGINE_DIRS:%=%/libmscore.so): %/libmscore.so: $(CORE_SRCS) $(HEADERS) $(SRC_HEADERS) \
		%/libmsheap.so | $(SECCOMP_HEADER) $(SECCOMP32_LIB)
	$(CC) $(ARCH) $(CFLAGS_ALL) -shared -o $@.tmp $(CORE_SRCS) -L$* -lmsheap -ldl -lseccomp \
		-Wl,-z,relro,-z,now -Wl,-rpath,'$$ORIGIN' && mv -f $@.tmp $@

# The instruction counter `mallocsim bench --instructions` runs under callgrind.
$(ENGINE_DIRS:%=%/mscount): %/mscount: c/src/count_main.c $(HEADERS) %/libmscore.so
	$(CC) $(ARCH) $(CSTD) $(WARN) $(OPT) -Ic/include -o $@.tmp $< -L$* -lmscore -lmsheap \
		-Wl,-rpath,'$$ORIGIN' && mv -f $@.tmp $@

# A student's allocator, sandboxed, serving the grader (remote.c).
$(ENGINE_DIRS:%=%/msagent): %/msagent: c/src/agent_main.c $(HEADERS) $(SRC_HEADERS) %/libmscore.so
	$(CC) $(ARCH) $(CSTD) $(WARN) $(OPT) -Ic/include -o $@.tmp $< -L$* -lmscore -lmsheap \
		-Wl,-rpath,'$$ORIGIN' && mv -f $@.tmp $@

# The instruction count's sandbox: it confines itself, then runs valgrind.
$(NATIVE_DIR)/msconfine: c/src/confine_main.c $(HEADERS) $(CORE_LIB)
	$(CC) $(CSTD) $(WARN) $(OPT) -Ic/include -o $@.tmp $< -L$(NATIVE_DIR) -lmscore -lmsheap \
		-Wl,-rpath,'$$ORIGIN' && mv -f $@.tmp $@

# $(call link_policy,FLAGS,RPATH): the lab-heap library $@ of the policy $<, linked with the heap's
# library (found at RPATH when loaded).
define link_policy
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(1) -DMM_DIALECT_CMU -shared -o $@.tmp $< -L$(NATIVE_DIR) -lmsheap \
		-Wl,-rpath,$(2) && mv -f $@.tmp $@
endef

$(NATIVE_DIR)/libmm-%.so: c/src/%.c $(HEADERS) $(SRC_HEADERS) $(HEAP_LIB)
	$(call link_policy,,'$$ORIGIN')

# The drop-in malloc: one policy over heaps of its own (the program break stays the program's),
# exporting only the malloc API (everything else hidden, so mm_* and mem_* clash with nothing).
# $(call link_dropin,FLAGS): the library $@ of policy $*: its code once, with a copy of its state
# and of its heap's (memlib_sbrk.c) per arena (MALLOCSIM_ARENAS: c/src/arena_state.h).
define link_dropin
	@mkdir -p $(@D)
	$(CC) $(1) $(DROPIN_LTO) -DMM_DIALECT_CMU -DMALLOCSIM_ARENAS -pthread -fvisibility=hidden \
		-shared -Wl,-z,defs -o $@.tmp $(DROPIN_SHIM) $< c/src/memlib_sbrk.c && mv -f $@.tmp $@
endef

$(NATIVE_DIR)/libmallocsim-%.so: c/src/%.c c/src/memlib_sbrk.c $(DROPIN_SHIM) $(HEADERS) $(SRC_HEADERS)
	$(call link_dropin,$(CFLAGS_ALL))

# The same libraries with their assertions on (no NDEBUG): test_dropin.py runs its threaded
# stress, trims and purges on them, so that the preconditions a release leaves out are checked
# where threads, caches and arenas meet.
DEBUG_DROPIN_DIR := $(BUILD_DIR)/dropin-debug
DEBUG_DROPINS := $(POLICIES:%=$(DEBUG_DROPIN_DIR)/libmallocsim-%.so)
$(DEBUG_DROPIN_DIR)/libmallocsim-%.so: c/src/%.c c/src/memlib_sbrk.c $(DROPIN_SHIM) $(HEADERS) \
		$(SRC_HEADERS)
	$(call link_dropin,$(CSTD) $(WARN) -O1 -g -fPIC -Ic/include -Ic/src)

$(DROPIN_LIB): $(NATIVE_DIR)/libmallocsim-$(DROPIN_POLICY).so
	cp $< $@.tmp && mv -f $@.tmp $@

# The recorder: an LD_PRELOAD interposer logging every allocation call.
$(RECORD_LIB): c/src/recorder.c
	@mkdir -p $(NATIVE_DIR)
	$(CC) $(CFLAGS_ALL) -pthread -fvisibility=hidden -shared -Wl,-z,defs -o $@.tmp $< -ldl \
		&& mv -f $@.tmp $@

# Preloaded into the compiler of a student's mm.c: a file it may not read looks missing.
$(UNSEEN_LIB): c/src/unseen_files.c
	@mkdir -p $(NATIVE_DIR)
	$(CC) $(CFLAGS_ALL) -fvisibility=hidden -shared -Wl,-z,defs -o $@.tmp $< && mv -f $@.tmp $@

# ---------------------------------------------------------------- C tests
# Each c/tests/test_<x>.c is built with sanitizers straight from the sources
# it tests; test_policy.c is built once per policy.
SAN        := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
TEST_CFLAGS := $(CSTD) $(WARN) -O1 -g $(SAN) -Ic/include -Ic/src -Ic/tests
TEST_BIN   := $(BUILD_DIR)/c-test
TEST_HEADERS := $(wildcard c/tests/*.h)

C_TESTS := $(TEST_BIN)/test_memlib $(TEST_BIN)/test_trace $(TEST_BIN)/test_replay \
           $(TEST_BIN)/test_lab_adapter $(TEST_BIN)/test_address_table $(TEST_BIN)/test_word_lock \
           $(POLICIES:%=$(TEST_BIN)/test_policy_%) $(POLICIES:%=$(TEST_BIN)/test_corrupt_%)

$(TEST_BIN)/test_memlib: c/tests/test_memlib.c c/src/memlib.c $(HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -o $@ c/tests/test_memlib.c c/src/memlib.c

$(TEST_BIN)/test_address_table: c/tests/test_address_table.c c/src/address_table.c $(SRC_HEADERS) $(TEST_HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -o $@ c/tests/test_address_table.c c/src/address_table.c

# ThreadSanitizer, not ASan: what it tests is the lock's memory order between threads.
$(TEST_BIN)/test_word_lock: c/tests/test_word_lock.c $(SRC_HEADERS) $(TEST_HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(CSTD) $(WARN) -O1 -g -fsanitize=thread -Ic/src -Ic/tests -pthread -o $@ \
		c/tests/test_word_lock.c

$(TEST_BIN)/test_trace: c/tests/test_trace.c c/src/trace.c $(HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -o $@ c/tests/test_trace.c c/src/trace.c

$(TEST_BIN)/test_replay: c/tests/test_replay.c $(CORE_SRCS) c/src/memlib.c $(HEADERS) $(SRC_HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -o $@ c/tests/test_replay.c $(CORE_SRCS) c/src/memlib.c -ldl -lseccomp

# Builds small mm.c files against the lab headers at run time, with each compiler it finds.
$(TEST_BIN)/test_lab_adapter: c/tests/test_lab_adapter.c $(CORE_SRCS) c/src/memlib.c $(HEADERS) $(LAB_HEADERS) $(SRC_HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -DLABS_DIR='"$(CURDIR)/c/include/labs"' -o $@ c/tests/test_lab_adapter.c \
		$(CORE_SRCS) c/src/memlib.c -ldl -lseccomp

$(TEST_BIN)/test_policy_%: c/tests/test_policy.c c/src/%.c c/src/memlib.c $(HEADERS) $(SRC_HEADERS) $(TEST_HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -DMM_DIALECT_CMU -DPOLICY_NAME='"$*"' -o $@ c/tests/test_policy.c c/src/$*.c c/src/memlib.c

# Each policy's checker must name the invariant a deliberately corrupted heap breaks.
$(TEST_BIN)/test_corrupt_%: c/tests/test_corrupt_%.c c/src/%.c c/src/memlib.c $(HEADERS) $(SRC_HEADERS) $(TEST_HEADERS)
	@mkdir -p $(TEST_BIN)
	$(CC) $(TEST_CFLAGS) -DMM_DIALECT_CMU -o $@ c/tests/test_corrupt_$*.c c/src/$*.c c/src/memlib.c

# A short libFuzzer run per policy: op sequences replayed by the engine's
# checked pass with mm_checkheap after every op (c/tests/fuzz_policy.c).
FUZZ_SECONDS ?= 5
FUZZ_BIN   := $(BUILD_DIR)/fuzz
FUZZERS    := $(POLICIES:%=$(FUZZ_BIN)/fuzz_%)

$(FUZZ_BIN)/fuzz_%: c/tests/fuzz_policy.c c/src/%.c $(CORE_SRCS) c/src/memlib.c $(HEADERS) $(SRC_HEADERS) $(TEST_HEADERS)
	@mkdir -p $(FUZZ_BIN)
	clang $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-DMM_DIALECT_CMU -DPOLICY_NAME='"$*"' -Ic/include -Ic/src -Ic/tests -o $@ \
		c/tests/fuzz_policy.c c/src/$*.c $(CORE_SRCS) c/src/memlib.c -ldl -lseccomp

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do echo "== $$f ($(FUZZ_SECONDS) s)"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=$(FUZZ_BIN)/ \
			> $$f.log 2>&1 || { grep -v '^INFO' $$f.log | head -n 20; exit 1; }; \
		grep -E '^(Done|stat::number_of_executed_runs)' $$f.log || tail -n 1 $$f.log; done

c-test: $(C_TESTS) $(DEBUG_DROPINS)
	@set -e; for t in $(C_TESTS); do echo "== $$t"; $$t; done

# ----------------------------------------------------------------- Python
# The virtual environment is made once and refreshed when pyproject.toml changes.
$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.stamp

run: native venv
	$(VENV)/bin/mallocsim replay traces/

test: system-deps native venv format-check lint c-test fuzz
	$(VPY) -m pytest driver/tests

bench: native venv
	$(VENV)/bin/mallocsim bench ../shared/traces/classic ../shared/traces/cmu

# A generated 10-million-op trace: parse rate, replay time, peak memory per op.
bench-scale: native venv
	sh tools/bench-scale.sh

bench-grade: native venv
	sh tools/bench-grade.sh

# A generated class of 300 submissions of both labs, graded from a cold cache: under 10 minutes.
bench-class: native venv
	bash tools/bench-class.sh

# The programs of c/bench/ under each allocator, 5 interleaved runs each (about 3 minutes);
# `mallocsim programs` builds them into $(BUILD_DIR)/bench-programs/ first.
bench-programs: native venv
	@mkdir -p $(BUILD_DIR)
	$(VENV)/bin/mallocsim programs --plot $(BUILD_DIR)/bench-programs.png \
		--json $(BUILD_DIR)/bench-programs.json

# What issue 14's targets cost one another, in one run each: segfit built with utilization given
# for speed, beside the shipped policy and the references on the shared traces; the drop-in built
# with smaller caches, memory bought with speed, on the threaded programs (about 3 minutes).
# Each variant is the shipped source with tunables of segfit_layout.h or thread_cache.c changed.
FRONTIER_DIR := $(BUILD_DIR)/frontier
FRONTIER_SEGFIT_small-256 := -DSMALL_MAX=256
FRONTIER_SEGFIT_big-runs := -DRUN_SIZE=16384 -DRUN_LIVE_SHARE=2
FRONTIER_SEGFIT_pages := -DSMALL_MAX=1024 -DRUN_PROMOTE=1 -DRUN_SIZE=65536 -DRUN_LIVE_SHARE=1
FRONTIER_DROPIN_cache-64k := -DTC_BYTES=65536
FRONTIER_DROPIN_cache-16k := -DTC_BYTES=16384 -DDEPOT_BYTES=16384
FRONTIER_SEGFITS := $(FRONTIER_DIR)/segfit-small-256.so $(FRONTIER_DIR)/segfit-big-runs.so \
	$(FRONTIER_DIR)/segfit-pages.so
FRONTIER_DROPINS := $(FRONTIER_DIR)/dropin-cache-64k.so $(FRONTIER_DIR)/dropin-cache-16k.so

$(FRONTIER_DIR)/segfit-%.so: c/src/segfit.c $(HEADERS) $(SRC_HEADERS) $(HEAP_LIB)
	$(call link_policy,$(FRONTIER_SEGFIT_$*),$(abspath $(NATIVE_DIR)))

$(FRONTIER_DIR)/dropin-%.so: c/src/segfit.c c/src/memlib_sbrk.c $(DROPIN_SHIM) $(HEADERS) $(SRC_HEADERS)
	$(call link_dropin,$(CFLAGS_ALL) $(FRONTIER_DROPIN_$*))

bench-frontier: native venv $(FRONTIER_SEGFITS) $(FRONTIER_DROPINS)
	$(VENV)/bin/mallocsim compare -q --wide --rounds 3 --dialect cmu -a segfit \
		$(FRONTIER_SEGFITS:%=-a %) -a mimalloc -a tcmalloc ../shared/traces/classic ../shared/traces/cmu
	$(VENV)/bin/mallocsim programs -q --wide --repeat 5 -a mallocsim $(FRONTIER_DROPINS:%=-a %) \
		-p larson -p xmalloc -p rptest -t 1 -t 2

# What the sandbox costs an honest student allocator on the CS:APP traces.
bench-sandbox: native venv
	$(VPY) tools/bench_sandbox.py driver/tests/allocators/labs/csapp_explicit.c \
		$(if $(wildcard ../shared/traces/classic),../shared/traces/classic,traces)

# How far the clock confirms an instruction count: honest allocators' ratios, which calibrate
# clock_check.TOLERANCE, on the CS:APP and the CMU traces (about 3 minutes).
LAB_FIXTURES := driver/tests/allocators/labs
bench-clock: native venv
	$(VPY) tools/clock_ratio.py csapp ../shared/traces/classic segfit explicit implicit \
		$(LAB_FIXTURES)/csapp_explicit.c $(LAB_FIXTURES)/csapp_implicit.c
	$(VPY) tools/clock_ratio.py cmu ../shared/traces/cmu segfit explicit implicit \
		$(LAB_FIXTURES)/cmu_segregated.c

format:
	clang-format -i c/include/*.h $(LAB_HEADERS) c/src/*.[ch] c/tests/*.[ch] c/bench/*.[ch]

format-check:
	clang-format --dry-run --Werror c/include/*.h $(LAB_HEADERS) c/src/*.[ch] c/tests/*.[ch] c/bench/*.[ch]

lint: venv
	$(VENV)/bin/ruff check driver setup.py
	$(VENV)/bin/ruff format --check driver setup.py

# Debian packages the tests need, installed only when missing (root, as here).
system-deps:
	@sh tools/system-deps.sh

clean:
	rm -rf $(BUILD_DIR) $(NATIVE_DIR) driver/*.egg-info
