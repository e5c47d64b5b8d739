# SPDX-License-Identifier: MIT
# megafs - one non-recursive GNU Makefile, no configure step.
#
#   make               build build/release: libmk.a, megafs, tests, benches
#   make test          build + run every suite (scripts/run-tests.sh)
#   make demo          mount, drive with shell tools, unmount (scripts/demo.sh)
#   make check-asan    suites under ASan+UBSan (build/asan)
#   make check-valgrind  suites under valgrind (CPU backend)
#   make check-tsan    runtime suites under ThreadSanitizer (build/tsan)
#   make check-gpu     GPU-tagged suites (needs a device)
#   make bench         benchmarks with peers measured in the same run
#   make lint          size limits, symbol prefix, include layering
#   make fuzz          libFuzzer harnesses, FUZZ_SECONDS each (default 20)
#
# CUDA ?= auto: on when nvcc is found (PATH or /usr/local/cuda/bin), CUDA=0
# forces the stub backend, CUDA=1 fails without nvcc. V=1 for full commands.

FLAVOR ?= release
B := build/$(FLAVOR)

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA ?= auto
CUDA_ARCH ?= 90
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

ifeq ($(CUDA),auto)
  CUDA_ON := $(if $(NVCC),1,0)
else ifeq ($(CUDA),1)
  CUDA_ON := 1
  ifeq ($(NVCC),)
    $(error CUDA=1 but nvcc not found. Fix: put nvcc on PATH or use CUDA=0)
  endif
else
  CUDA_ON := 0
endif

# A fresh machine: install what is missing (scripts/deps.sh) before the
# pkg-config lines below read the flags; as a prerequisite it would run too
# late, and beside the compilers under -j. Once per top-level make.
NODEPS_GOALS := clean lint format cuda-status deps
ifeq ($(MAKELEVEL),0)
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
# check-valgrind and fuzz also need valgrind and clang (--dev), bench
# Hyperscan for its peer (--bench).
DEPS_FLAG := $(if $(filter check-valgrind fuzz%,$(MAKECMDGOALS)),--dev,$(if $(filter bench,$(MAKECMDGOALS)),--bench))
ifneq ($(shell scripts/deps.sh $(DEPS_FLAG) >&2 && echo ok),ok)
$(error scripts/deps.sh could not install the build dependencies. Fix: follow its message above, then run make again)
endif
endif
endif

PKGS := fuse3 liburing check
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUSE_LIBS := $(shell pkg-config --libs fuse3 2>/dev/null)
URING_LIBS := $(shell pkg-config --libs liburing 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla
CFLAGS_release := -O2 -g
CFLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
CFLAGS_tsan := -O1 -g -fsanitize=thread -Wno-tsan
CFLAGS_fault := -O1 -g -DMK_TESTING -include runtime/fault.h \
	-fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS_fault := -fsanitize=address,undefined
LDFLAGS_asan := -fsanitize=address,undefined
LDFLAGS_tsan := -fsanitize=thread

CPPFLAGS += -I. -D_GNU_SOURCE -MMD -MP
CFLAGS += -std=c11 $(WARN) $(CFLAGS_$(FLAVOR)) $(PKG_CFLAGS)
LDFLAGS += $(LDFLAGS_$(FLAVOR))
LDLIBS += -lpthread -lm

RUNTIME_SRC := $(filter-out runtime/backend_cuda.c runtime/backend_cuda_scan.c \
	runtime/backend_cuda_stub.c,$(wildcard runtime/*.c))
ifeq ($(wildcard runtime/backend_cuda.c),)
  CUDA_ON := 0
endif
ifeq ($(CUDA_ON),1)
  RUNTIME_SRC += runtime/backend_cuda.c runtime/backend_cuda_scan.c
  CU_SRC := $(wildcard kernels/*.cu)
  CPPFLAGS += -DMK_HAVE_CUDA=1 -I$(CUDA_HOME)/include
  CUDA_LIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
  NVCCFLAGS := -O3 -std=c++17 -I. -Xcompiler -fPIC,-Wall \
	-gencode arch=compute_$(CUDA_ARCH),code=sm_$(CUDA_ARCH) \
	-gencode arch=compute_$(CUDA_ARCH),code=compute_$(CUDA_ARCH)
else
  RUNTIME_SRC += runtime/backend_cuda_stub.c
  CU_SRC :=
  CUDA_LIBS :=
endif

RUNTIME_OBJ := $(RUNTIME_SRC:%.c=$(B)/%.o) $(CU_SRC:%.cu=$(B)/%.cu.o)
FS_SRC := $(wildcard fs/*.c)
FS_OBJ := $(FS_SRC:%.c=$(B)/%.o)
TEST_SRC := $(wildcard tests/check_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TEST_HELPER_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/t_*.c))
TEST_HELPER_OBJ := $(TEST_HELPER_SRC:%.c=$(B)/%.o)
BENCH_SRC := $(wildcard tests/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/%.c=$(B)/tests/%)
TOOL_SRC := $(wildcard tests/tool_*.c)
TOOL_BIN := $(TOOL_SRC:tests/%.c=$(B)/tests/%)

LIBMK := $(B)/libmk.a
MEGAFS := $(B)/megafs
ALL_LIBS := $(LIBMK) $(URING_LIBS) $(CUDA_LIBS) $(LDLIBS)

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2)
endif

.PHONY: all deps test demo bench check-asan check-valgrind check-tsan \
	check-gpu check-fault lint clean cuda-status format fuzz
all: cuda-status $(LIBMK) $(MEGAFS) $(TEST_BIN) $(BENCH_BIN) $(TOOL_BIN)

deps:
	@scripts/deps.sh

cuda-status:
ifeq ($(CUDA_ON),1)
	@echo "  CUDA    on ($(NVCC), sm_$(CUDA_ARCH))"
else
	@echo "  CUDA    off (nvcc not found or CUDA=0): building the stub backend"
endif

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(call msg,NVCC,$<)
	$(Q)$(NVCC) $(NVCCFLAGS) -MD -MP -MF $(@:.o=.d) -c $< -o $@

$(LIBMK): $(RUNTIME_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(MEGAFS): $(FS_OBJ) $(LIBMK)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(FS_OBJ) $(FUSE_LIBS) $(ALL_LIBS)

$(B)/tests/check_%: $(B)/tests/check_%.o $(TEST_HELPER_OBJ) $(LIBMK)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(TEST_HELPER_OBJ) $(CHECK_LIBS) $(ALL_LIBS)

$(B)/tests/bench_%: $(B)/tests/bench_%.o $(LIBMK)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(BENCH_LIBS) $(FUSE_LIBS) $(ALL_LIBS)

# tests/bench_scan.c compares with Hyperscan when libhs is installed at
# build time (bench only: scripts/deps.sh --bench; make test never needs it).
HS_LIBS := $(shell pkg-config --exists libhs 2>/dev/null && pkg-config --libs libhs)
ifneq ($(HS_LIBS),)
$(B)/tests/bench_scan.o: CPPFLAGS += -DMK_HAVE_HYPERSCAN=1 $(shell pkg-config --cflags libhs)
$(B)/tests/bench_scan: BENCH_LIBS := $(HS_LIBS)
endif

# tool_load mounts megafs in-process: it links fs/ without fs/main.c.
FS_LIB_OBJ := $(filter-out $(B)/fs/main.o,$(FS_OBJ))
$(B)/tests/tool_load: $(B)/tests/tool_load.o $(FS_LIB_OBJ) $(LIBMK)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(FS_LIB_OBJ) $(FUSE_LIBS) $(ALL_LIBS)

$(B)/tests/tool_%: $(B)/tests/tool_%.o $(LIBMK)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(FUSE_LIBS) $(ALL_LIBS)

test: all
	@scripts/run-tests.sh $(B)

demo: all
	@scripts/demo.sh $(B)

bench: all
	@scripts/bench.sh $(B)

# The build a check-* target runs: B when given on the command line (make
# check-asan B=/tmp/x builds there, so it must run there too), else
# build/FLAVOR.
flavor_b = $(if $(filter command line,$(origin B)),$(B),build/$(1))

# Sanitizer reports go to files in a fresh directory (log_path), so that
# those of processes whose stderr nobody reads (the daemons the mount tests
# start in the background) are seen too: run-tests.sh prints them and
# fails when any appears (MK_SAN_LOGS).
check-asan:
	@$(MAKE) --no-print-directory FLAVOR=asan all
	@logs=$$(mktemp -d /tmp/mk-asan-logs.XXXXXX) && \
	 ASAN_OPTIONS=detect_leaks=1:protect_shadow_gap=0:log_path=$$logs/asan \
	 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$$logs/asan \
	 MK_SAN_LOGS=$$logs scripts/run-tests.sh $(call flavor_b,asan)

check-valgrind:
	@$(MAKE) --no-print-directory FLAVOR=release all
	@MK_VALGRIND=1 CK_FORK=no scripts/run-tests.sh $(call flavor_b,release)

check-tsan:
	@$(MAKE) --no-print-directory FLAVOR=tsan all
	@MK_SUITES="$(MK_TSAN_SUITES)" scripts/run-tests.sh $(call flavor_b,tsan)

check-fault:
	@$(MAKE) --no-print-directory FLAVOR=fault all
	@ASAN_OPTIONS=detect_leaks=1 CK_FORK=no MK_SUITES=check_fault \
	 scripts/run-tests.sh $(call flavor_b,fault)

check-gpu: all
	@MK_GPU=1 scripts/run-tests.sh $(B)

MK_TSAN_SUITES ?= check_runtime check_backend_cpu check_interp check_stream check_wake check_fanout

FUZZ_SECONDS ?= 20
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

lint:
	@scripts/lint.sh

format:
	@clang-format -i $(wildcard runtime/*.[ch] fs/*.[ch] tests/*.[ch] kernels/*.cu kernels/*.h)

clean:
	rm -rf build

# make install [PREFIX=/usr/local] [DESTDIR=]: megafs into $(PREFIX)/bin (on
# mount(8)'s PATH, so fuse.megafs fstab lines work) and the man page;
# make uninstall removes both.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
.PHONY: install uninstall
install: $(MEGAFS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(MEGAFS) $(DESTDIR)$(BINDIR)/megafs
	install -m 644 docs/megafs.1 $(DESTDIR)$(MANDIR)/man1/megafs.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/megafs $(DESTDIR)$(MANDIR)/man1/megafs.1

-include $(wildcard $(B)/*/*.d)
