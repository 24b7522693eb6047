#include "proj.h"

/* The format is chosen at run time: a non-literal format string for the
 * printf family, the case FormatGuard checks. */
const char *word_format(int verbose)
{
	return verbose ? " %s=%zu" : " %s";
}
