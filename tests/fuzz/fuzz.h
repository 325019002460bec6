/*
 * fuzz - the libFuzzer entry points every target in tests/fuzz defines.
 * Each target is built twice: with clang's -fsanitize=fuzzer for "make
 * fuzz", and with replay.c as main() so that "make check" runs every file
 * of its corpus (tests/fuzz/corpus/<target>/) as a regression test.
 */
#ifndef SQ_FUZZ_H
#define SQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
