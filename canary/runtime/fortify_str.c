/* FORTIFY alerts: the string and memory checks.
 *
 * With _FORTIFY_SOURCE, glibc's headers turn memcpy(d, s, n) into
 * __memcpy_chk(d, s, n, __builtin_object_size(d, 0)) (or the dynamic size at
 * level 3) wherever the compiler cannot prove the call safe. glibc's own
 * __*_chk functions print "*** buffer overflow detected ***" on stderr, where
 * a daemon's output is lost, and abort. These definitions, linked ahead of
 * libc, make the same checks with glibc's exact conditions (same arguments,
 * same return values, same treatment of each size), then do the work with
 * the plain function; on failure they raise a kind=fortify alert naming the
 * checked function, and halt. The list of covered functions and of those left
 * to glibc is in docs/stackguard.md. */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>
#include <wchar.h>

#include "../../guardlib/runtime/guard.h"

#define FAIL(name) __immunix_fortify_fail(name, __builtin_return_address(0))

void *__memcpy_chk(void *d, const void *s, size_t len, size_t dstlen);
void *__memmove_chk(void *d, const void *s, size_t len, size_t dstlen);
void *__mempcpy_chk(void *d, const void *s, size_t len, size_t dstlen);
void *__memset_chk(void *d, int c, size_t len, size_t dstlen);
void __explicit_bzero_chk(void *d, size_t len, size_t dstlen);
char *__strcpy_chk(char *d, const char *s, size_t destlen);
char *__stpcpy_chk(char *d, const char *s, size_t destlen);
char *__strncpy_chk(char *d, const char *s, size_t n, size_t destlen);
char *__stpncpy_chk(char *d, const char *s, size_t n, size_t destlen);
char *__strcat_chk(char *d, const char *s, size_t destlen);
char *__strncat_chk(char *d, const char *s, size_t n, size_t destlen);
wchar_t *__wmemcpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t ns1);
wchar_t *__wmemmove_chk(wchar_t *d, const wchar_t *s, size_t n, size_t ns1);
wchar_t *__wmempcpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t ns1);
wchar_t *__wmemset_chk(wchar_t *d, wchar_t c, size_t n, size_t dstlen);
wchar_t *__wcscpy_chk(wchar_t *d, const wchar_t *s, size_t n);
wchar_t *__wcpcpy_chk(wchar_t *d, const wchar_t *s, size_t destlen);
wchar_t *__wcsncpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t destlen);
wchar_t *__wcpncpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t destlen);
wchar_t *__wcscat_chk(wchar_t *d, const wchar_t *s, size_t destlen);
wchar_t *__wcsncat_chk(wchar_t *d, const wchar_t *s, size_t n, size_t destlen);

void *__memcpy_chk(void *d, const void *s, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__memcpy_chk");
	return memcpy(d, s, len);
}

void *__memmove_chk(void *d, const void *s, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__memmove_chk");
	return memmove(d, s, len);
}

void *__mempcpy_chk(void *d, const void *s, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__mempcpy_chk");
	return mempcpy(d, s, len);
}

void *__memset_chk(void *d, int c, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__memset_chk");
	return memset(d, c, len);
}

void __explicit_bzero_chk(void *d, size_t len, size_t dstlen)
{
	if (dstlen < len)
		FAIL("__explicit_bzero_chk");
	explicit_bzero(d, len);
}

char *__strcpy_chk(char *d, const char *s, size_t destlen)
{
	size_t len = strlen(s);
	if (len >= destlen)
		FAIL("__strcpy_chk");
	return memcpy(d, s, len + 1);
}

char *__stpcpy_chk(char *d, const char *s, size_t destlen)
{
	size_t len = strlen(s);
	if (len >= destlen)
		FAIL("__stpcpy_chk");
	return (char *)memcpy(d, s, len + 1) + len;
}

char *__strncpy_chk(char *d, const char *s, size_t n, size_t destlen)
{
	if (destlen < n)
		FAIL("__strncpy_chk");
	return strncpy(d, s, n);
}

char *__stpncpy_chk(char *d, const char *s, size_t n, size_t destlen)
{
	if (destlen < n)
		FAIL("__stpncpy_chk");
	return stpncpy(d, s, n);
}

char *__strcat_chk(char *d, const char *s, size_t destlen)
{
	size_t len = strlen(d), srclen = strlen(s);
	if (destlen <= len + srclen)
		FAIL("__strcat_chk");
	memcpy(d + len, s, srclen + 1);
	return d;
}

char *__strncat_chk(char *d, const char *s, size_t n, size_t destlen)
{
	size_t len = strlen(d), cp = strnlen(s, n);
	if (destlen <= len || destlen - len <= cp)
		FAIL("__strncat_chk");
	memcpy(d + len, s, cp);
	d[len + cp] = 0;
	return d;
}

wchar_t *__wmemcpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t ns1)
{
	if (ns1 < n)
		FAIL("__wmemcpy_chk");
	return wmemcpy(d, s, n);
}

wchar_t *__wmemmove_chk(wchar_t *d, const wchar_t *s, size_t n, size_t ns1)
{
	if (ns1 < n)
		FAIL("__wmemmove_chk");
	return wmemmove(d, s, n);
}

wchar_t *__wmempcpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t ns1)
{
	if (ns1 < n)
		FAIL("__wmempcpy_chk");
	return wmempcpy(d, s, n);
}

wchar_t *__wmemset_chk(wchar_t *d, wchar_t c, size_t n, size_t dstlen)
{
	if (dstlen < n)
		FAIL("__wmemset_chk");
	return wmemset(d, c, n);
}

wchar_t *__wcscpy_chk(wchar_t *d, const wchar_t *s, size_t n)
{
	size_t len = wcslen(s);
	if (len >= n)
		FAIL("__wcscpy_chk");
	return wmemcpy(d, s, len + 1);
}

wchar_t *__wcpcpy_chk(wchar_t *d, const wchar_t *s, size_t destlen)
{
	size_t len = wcslen(s);
	if (len >= destlen)
		FAIL("__wcpcpy_chk");
	return wmemcpy(d, s, len + 1) + len;
}

wchar_t *__wcsncpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t destlen)
{
	if (n > destlen)
		FAIL("__wcsncpy_chk");
	return wcsncpy(d, s, n);
}

wchar_t *__wcpncpy_chk(wchar_t *d, const wchar_t *s, size_t n, size_t destlen)
{
	if (n > destlen)
		FAIL("__wcpncpy_chk");
	return wcpncpy(d, s, n);
}

wchar_t *__wcscat_chk(wchar_t *d, const wchar_t *s, size_t destlen)
{
	size_t len = wcslen(d), srclen = wcslen(s);
	if (destlen <= len + srclen)
		FAIL("__wcscat_chk");
	wmemcpy(d + len, s, srclen + 1);
	return d;
}

wchar_t *__wcsncat_chk(wchar_t *d, const wchar_t *s, size_t n, size_t destlen)
{
	size_t len = wcslen(d), cp = wcsnlen(s, n);
	if (destlen <= len || destlen - len <= cp)
		FAIL("__wcsncat_chk");
	wmemcpy(d + len, s, cp);
	d[len + cp] = 0;
	return d;
}
