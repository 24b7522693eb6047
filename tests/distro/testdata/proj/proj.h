#ifndef PROJ_H
#define PROJ_H
#include <stddef.h>
int parse_count(const char *s);
const char *word_format(int verbose);
void table_add(const char *word);
size_t table_len(void);
const char *table_word(size_t i);
unsigned hash_words(void);
size_t buf_render(char *out, size_t size);
#endif
