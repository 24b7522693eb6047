/* GNU hello's quotearg_char (gnulib quotearg.c, set_char_quoting inlined):
   a local copy of a struct whose member unsigned bits[8] is indexed with
   c / 32 of an unsigned char: in range by its type. The compiler
   instruments no such access (pointer arithmetic, and in range); the
   index is bounded by the code. */
#include <limits.h>
#include <stdio.h>

struct opts {
	int style;
	unsigned int bits[(UCHAR_MAX / (sizeof(int) * CHAR_BIT)) + 1];
	const char *left, *right;
};

static struct opts defaults = {1, {0}, "'", "'"};

__attribute__((noinline)) static int show(const struct opts *o, const char *s)
{
	int n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (o->bits[*p / 32] >> (*p % 32)) & 1;
	return printf("%s%s%s %d\n", o->left, s, o->right, n);
}

static int set_char(struct opts *o, char c, int i)
{
	unsigned char uc = c;
	unsigned int *p = o->bits + uc / (sizeof(int) * CHAR_BIT);
	int shift = uc % (sizeof(int) * CHAR_BIT);
	int r = (*p >> shift) & 1;
	*p ^= ((i & 1) ^ r) << shift;
	return r;
}

__attribute__((noinline)) static int quote_char(const char *s, char c)
{
	struct opts o = defaults;
	set_char(&o, c, 1);
	return show(&o, s);
}

int main(int argc, char **argv)
{
	return quote_char(argc > 1 ? argv[1] : "a:b", argc > 2 ? argv[2][0] : ':') < 0;
}
