package guardlib

// FormatGuardArgs returns the compile arguments that put the FormatGuard
// wrapper headers first on the system include path (for example
// "-isystem DIR"), materialising the headers on first use.
//
// Owned by the FormatGuard work (issue 4); this placeholder keeps the build
// green until it lands.
func FormatGuardArgs() ([]string, error) {
	return nil, ErrNotBuilt
}
