package ccwrap

import (
	"sort"
	"strings"
)

// Option flag bits. The table below says, for every gcc/clang option whose
// shape matters to the parser, how its argument is spelled. Options that are
// not in the table take no argument (the -f, -m, -W, -O families), which is
// how gcc treats every option it does not list as taking one.
const (
	// takesArg: "-o FILE", the argument is the next argv element.
	takesArg = 1 << iota
	// takesJoined: "-oFILE", "-Wl,ARGS", "--sysroot=DIR": the argument is
	// glued to the option name (the table name includes any '=' or ',').
	takesJoined
)

type option struct {
	name  string
	flags int
	// canon is the name the parser's semantic switch knows the option by
	// (GNU long aliases map to their short spelling); empty means name.
	canon string
}

// options is sorted by name (byte order); TestOptionTableSorted checks it.
// Sources: GCC manual "Option Summary", clang "Command Line Reference".
var options = []option{
	{name: "--assemble", canon: "-S"},
	{name: "--compile", canon: "-c"},
	{name: "--define-macro", flags: takesArg, canon: "-D"},
	{name: "--define-macro=", flags: takesJoined, canon: "-D"},
	{name: "--include", flags: takesArg, canon: "-include"},
	{name: "--include-directory", flags: takesArg, canon: "-I"},
	{name: "--include-directory=", flags: takesJoined, canon: "-I"},
	{name: "--include=", flags: takesJoined, canon: "-include"},
	{name: "--language", flags: takesArg, canon: "-x"},
	{name: "--language=", flags: takesJoined, canon: "-x"},
	{name: "--library-directory", flags: takesArg, canon: "-L"},
	{name: "--library-directory=", flags: takesJoined, canon: "-L"},
	{name: "--output", flags: takesArg, canon: "-o"},
	{name: "--output=", flags: takesJoined, canon: "-o"},
	{name: "--param", flags: takesArg},
	{name: "--param=", flags: takesJoined, canon: "--param"},
	{name: "--preprocess", canon: "-E"},
	{name: "--shared", canon: "-shared"},
	{name: "--static", canon: "-static"},
	{name: "--sysroot", flags: takesArg},
	{name: "--sysroot=", flags: takesJoined, canon: "--sysroot"},
	{name: "--target=", flags: takesJoined, canon: "-target"},
	{name: "--undefine-macro", flags: takesArg, canon: "-U"},
	{name: "--undefine-macro=", flags: takesJoined, canon: "-U"},
	{name: "-A", flags: takesArg | takesJoined},
	{name: "-B", flags: takesArg | takesJoined},
	{name: "-D", flags: takesArg | takesJoined},
	{name: "-F", flags: takesArg | takesJoined},
	{name: "-G", flags: takesArg | takesJoined},
	{name: "-I", flags: takesArg | takesJoined},
	{name: "-L", flags: takesArg | takesJoined},
	{name: "-MF", flags: takesArg | takesJoined},
	{name: "-MJ", flags: takesArg | takesJoined},
	{name: "-MQ", flags: takesArg | takesJoined},
	{name: "-MT", flags: takesArg | takesJoined},
	{name: "-T", flags: takesArg | takesJoined},
	{name: "-U", flags: takesArg | takesJoined},
	{name: "-Wa,", flags: takesJoined},
	{name: "-Wl,", flags: takesJoined},
	{name: "-Wp,", flags: takesJoined},
	{name: "-Xanalyzer", flags: takesArg},
	{name: "-Xassembler", flags: takesArg},
	{name: "-Xclang", flags: takesArg},
	{name: "-Xlinker", flags: takesArg},
	{name: "-Xpreprocessor", flags: takesArg},
	{name: "-arch", flags: takesArg},
	{name: "-aux-info", flags: takesArg},
	{name: "-dumpbase", flags: takesArg},
	{name: "-dumpbase-ext", flags: takesArg},
	{name: "-dumpdir", flags: takesArg},
	{name: "-e", flags: takesArg},
	{name: "-gcc-toolchain", flags: takesArg},
	{name: "-idirafter", flags: takesArg | takesJoined},
	{name: "-iframework", flags: takesArg | takesJoined},
	{name: "-imacros", flags: takesArg | takesJoined},
	{name: "-imultiarch", flags: takesArg},
	{name: "-imultilib", flags: takesArg},
	{name: "-include", flags: takesArg | takesJoined},
	{name: "-include-pch", flags: takesArg},
	{name: "-iprefix", flags: takesArg | takesJoined},
	{name: "-iquote", flags: takesArg | takesJoined},
	{name: "-isysroot", flags: takesArg | takesJoined},
	{name: "-isystem", flags: takesArg | takesJoined},
	{name: "-isystem-after", flags: takesArg},
	{name: "-ivfsoverlay", flags: takesArg},
	{name: "-iwithprefix", flags: takesArg | takesJoined},
	{name: "-iwithprefixbefore", flags: takesArg | takesJoined},
	{name: "-iwithsysroot", flags: takesArg | takesJoined},
	{name: "-l", flags: takesArg | takesJoined},
	{name: "-mllvm", flags: takesArg},
	{name: "-o", flags: takesArg | takesJoined},
	{name: "-target", flags: takesArg},
	{name: "-u", flags: takesArg | takesJoined},
	{name: "-wrapper", flags: takesArg},
	{name: "-x", flags: takesArg | takesJoined},
	{name: "-z", flags: takesArg | takesJoined},
}

// lookupOption finds the table entry for arg: an exact match first, else the
// longest name that takes a joined argument and prefixes arg. It reports the
// entry and, for the joined form, the argument text.
func lookupOption(arg string) (opt option, joined string, isJoined, ok bool) {
	i := sort.Search(len(options), func(i int) bool { return options[i].name >= arg })
	if i < len(options) && options[i].name == arg {
		return options[i], "", false, true
	}
	best := -1
	for j := range options {
		o := &options[j]
		if o.flags&takesJoined == 0 || len(o.name) >= len(arg) || !strings.HasPrefix(arg, o.name) {
			continue
		}
		if best < 0 || len(o.name) > len(options[best].name) {
			best = j
		}
	}
	if best < 0 {
		return option{}, "", false, false
	}
	return options[best], arg[len(options[best].name):], true, true
}

func (o option) canonical() string {
	if o.canon != "" {
		return o.canon
	}
	return strings.TrimRight(o.name, "=")
}
