// Package elfacts reads an ELF file once into typed facts: what the headers,
// the program headers, the dynamic section, the notes and the symbol tables
// say, and what disassembling every function's x86-64 code shows about its
// stack canary. It draws no conclusions: package check turns facts into
// verdicts and reports.
//
// Each fact's comment names the kernel, glibc or binutils rule it mirrors.
//
// Example:
//
//	f, _ := os.Open("/usr/bin/ls")
//	st, _ := f.Stat()
//	facts, err := elfacts.Read(f, st.Size(), elfacts.Options{Functions: true})
//	if err != nil {
//		log.Fatal(err) // e.g. "read ELF header: bad magic number ..."
//	}
//	fmt.Println(facts.RELRO, facts.BindNow, facts.Canary.Protected)
package elfacts
