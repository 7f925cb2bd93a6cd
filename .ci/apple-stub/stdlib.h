/* Why this file exists: see TargetConditionals.h next to it. For x86_64-apple-darwin,
 * ring's curve25519_64_adx.c includes clang's immintrin.h, whose mm_malloc.h includes
 * <stdlib.h> for these three functions. Declarations only; nothing is linked. */
#pragma once
#include <stddef.h>
void *malloc(size_t size);
void free(void *ptr);
int posix_memalign(void **memptr, size_t alignment, size_t size);
