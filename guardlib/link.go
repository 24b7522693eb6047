package guardlib

// LinkArgs returns the arguments immunix-cc appends to a link command so the
// guard runtime is linked in (for example "-Wl,-u,__immunix_init" and the
// archive path), building the runtime for t on first use.
//
// Owned by the StackGuard work (issue 3); this placeholder keeps the build
// green until it lands.
func LinkArgs(t Target) ([]string, error) {
	return nil, ErrNotBuilt
}
