// Package pkg reads the files inside Debian (.deb) and RPM (.rpm) packages
// straight from the package stream, without unpacking anything to disk: an
// ar reader and tar (archive/tar) for .deb, the RPM lead and header
// structures and a cpio "newc" reader for .rpm, and the compressions both
// use (gzip and zstd through klauspost/compress, xz and lzma through
// ulikunitz/xz, bzip2 from the standard library).
//
// Example:
//
//	f, _ := os.Open("hello_1.0_amd64.deb")
//	err := pkg.Walk(f, func(m pkg.Member, r io.Reader) error {
//		fmt.Println(m.Name, m.Size) // "./usr/bin/hello 16384"
//		return nil
//	})
package pkg
