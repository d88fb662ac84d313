# ATOTA: the README's two commands are `make run` and `make test`.
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
BUILD       ?= build
TEST_BUILD  ?= build-test
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 60
MODULE      ?= esp32-wroom-32
C_SOURCES    = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build run test fuzz bench format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATOTA_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Builds a demo firmware and a flash image for a module, boots atota-sim on it and talks to it.
run: build
	@bash scripts/run.sh $(BUILD) $(MODULE)

# The release build too: -O2 finds warnings (-Werror) that the -O0 test build does not.
test: deps format-check build
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DATOTA_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

# libFuzzer over the image, partition-table and CSV parsers, FUZZ_SECONDS each.
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DATOTA_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Speed and memory, each figure a ratio against a baseline measured in the same run.
bench: build
	@cmake --build $(BUILD) --target benches -j $(JOBS)
	@for b in $(BUILD)/bench_*; do echo "== $$b"; "$$b"; done
	@echo "== bench/server/run.sh" && bash bench/server/run.sh $(BUILD)

format:
	@clang-format -i $(C_SOURCES)

format-check:
	@clang-format --dry-run -Werror $(C_SOURCES)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
