// containers.cpp: the C++ benchmark for the cxxassert candidate
// (-D_GLIBCXX_ASSERTIONS, docs/boundsguard.md). Its inner loops index
// libstdc++ containers with operator[] (std::vector, std::string,
// std::array, std::deque), which is what the assertions check and what
// lzip, the first C++ benchmark, does not do. Five kernels of the kinds
// real programs run: a sieve, a dense matrix product, a byte histogram,
// an edit distance with two rows, and a ring buffer of deque windows.
// Prints one checksum line, the same for every build.
//
//   containers [SCALE]    (default 1)
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

static std::uint64_t sieve(std::size_t n) {
	std::vector<char> composite(n + 1, 0);
	std::uint64_t sum = 0;
	for (std::size_t i = 2; i <= n; i++) {
		if (composite[i])
			continue;
		sum += i;
		for (std::size_t j = i * i; j <= n; j += i)
			composite[j] = 1;
	}
	return sum;
}

static std::uint64_t matmul(std::size_t n) {
	std::vector<double> a(n * n), b(n * n), c(n * n, 0.0);
	for (std::size_t i = 0; i < n * n; i++) {
		a[i] = double(i % 7) + 0.5;
		b[i] = double(i % 5) - 1.0;
	}
	for (std::size_t i = 0; i < n; i++)
		for (std::size_t k = 0; k < n; k++) {
			double aik = a[i * n + k];
			for (std::size_t j = 0; j < n; j++)
				c[i * n + j] += aik * b[k * n + j];
		}
	double s = 0;
	for (std::size_t i = 0; i < n * n; i++)
		s += c[i];
	return std::uint64_t(s);
}

static std::string text(std::size_t n) {
	std::string s(n, ' ');
	std::uint32_t x = 12345;
	for (std::size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		s[i] = char('a' + (x >> 16) % 26);
	}
	return s;
}

static std::uint64_t histogram(const std::string &s, int rounds) {
	std::array<std::uint32_t, 256> count{};
	for (int r = 0; r < rounds; r++)
		for (std::size_t i = 0; i < s.size(); i++)
			count[static_cast<unsigned char>(s[i])]++;
	std::uint64_t h = 0;
	for (std::size_t i = 0; i < count.size(); i++)
		h = h * 31 + count[i];
	return h;
}

static std::uint64_t editDistance(const std::string &a, const std::string &b) {
	std::vector<std::uint32_t> prev(b.size() + 1), cur(b.size() + 1);
	for (std::size_t j = 0; j <= b.size(); j++)
		prev[j] = std::uint32_t(j);
	for (std::size_t i = 1; i <= a.size(); i++) {
		cur[0] = std::uint32_t(i);
		for (std::size_t j = 1; j <= b.size(); j++) {
			std::uint32_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			std::uint32_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			std::uint32_t m = sub < del ? sub : del;
			cur[j] = m < ins ? m : ins;
		}
		prev.swap(cur);
	}
	return prev[b.size()];
}

static std::uint64_t windows(std::size_t n, std::size_t w) {
	std::deque<std::uint32_t> d;
	std::uint64_t sum = 0;
	std::uint32_t x = 7;
	for (std::size_t i = 0; i < n; i++) {
		x = x * 69069u + 1u;
		d.push_back(x >> 8);
		if (d.size() > w)
			d.pop_front();
		for (std::size_t k = 0; k < d.size(); k += 4)
			sum += d[k];
	}
	return sum;
}

int main(int argc, char **argv) {
	int scale = argc > 1 ? std::atoi(argv[1]) : 1;
	if (scale < 1)
		scale = 1;
	std::uint64_t r = 0;
	for (int s = 0; s < scale; s++) {
		r ^= sieve(2000000);
		r ^= matmul(120) << 1;
		std::string t = text(1 << 20);
		r ^= histogram(t, 8) << 2;
		r ^= editDistance(t.substr(0, 1500), t.substr(5000, 1500)) << 3;
		r ^= windows(200000, 64) << 4;
	}
	std::printf("%llu\n", static_cast<unsigned long long>(r));
	return 0;
}
