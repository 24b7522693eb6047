// Package version holds the immunix version, written into every build stamp
// and printed by --version.
package version

// Version is the immunix release version.
const Version = "0.1.0"
