#ifndef GREET_H
#define GREET_H
/* greet_line writes "<greeting>, <name>" into buf (at most size bytes) and
 * returns buf. */
char *greet_line(char *buf, unsigned long size, const char *greeting, const char *name);
#endif
