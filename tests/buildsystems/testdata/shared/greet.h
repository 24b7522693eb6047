#ifndef GREET_H
#define GREET_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
int greet(char *out, size_t n, const char *name);
#ifdef __cplusplus
}
#endif
#endif
