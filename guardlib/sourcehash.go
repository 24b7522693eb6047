package guardlib

// sourcesHash is the hash sources() computes over the embedded runtime
// sources and the build flags. Key uses this copy so that immunix-cc does
// not read and hash 56 KB of C on every link; TestSourcesHash keeps it
// equal to the computed one (go test ./guardlib -run TestSourcesHash
// -update rewrites it after a change to the runtime or its flags).
const sourcesHash = "ede76367ebd2c12b2887427a7c6180dbd88d88d4026fe3669584362fdffbdf3e"
