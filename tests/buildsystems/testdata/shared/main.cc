#include <cstdio>
#include <iostream>
#include <string>
#include "greet.h"

int main(int argc, char **argv)
{
	char out[128];
	greet(out, sizeof out, argc > 1 ? argv[1] : "world");
	std::string s(out);
	std::cout << s << std::endl;
	std::printf("%zu\n", s.size());
	return 0;
}
