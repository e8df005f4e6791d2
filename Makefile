# The two commands: `make run` (build, then serve on the embedded store) and `make test`.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
ARGS ?=

.PHONY: all deps test-deps build run test unit-asan clean bench tokenizer-fuzz

all: build

deps:
	@tools/install-deps.sh build

test-deps:
	@tools/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DTOLLGATE_TESTS=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/tollgate serve $(ARGS)

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
unit-asan: test-deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTOLLGATE_TESTS=ON -DTOLLGATE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS) --target unit_tests
	@cd $(ASAN_BUILD) && ctest -L unit --output-on-failure -j$(JOBS)

test: test-deps build unit-asan tokenizer-fuzz
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The tokenizer's libFuzzer target (clang, ASan+UBSan), run briefly.
tokenizer-fuzz: test-deps
	@tools/tokenizer-fuzz.sh

# The benchmarks of bench/RESULTS.md, each against its peer in the same run (minutes;
# not part of `make test`).
bench: build
	@tools/install-deps.sh bench
	bench/check_report/run.sh 10 64
	bench/gateway/run.sh 10 64
	bench/tokenizer/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
