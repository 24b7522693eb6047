#include <stdio.h>

int greet(const char *who);

int main(int argc, char **argv)
{
	return greet(argc > 1 ? argv[1] : "world") < 0;
}
