package guardlib

// sourcesHash is the hash sources() computes over the embedded runtime
// sources and the build flags. Key uses this copy so that immunix-cc does
// not read and hash 56 KB of C on every link; TestSourcesHash keeps it
// equal to the computed one (go test ./guardlib -run TestSourcesHash
// -update rewrites it after a change to the runtime or its flags).
const sourcesHash = "1d95237b2fc32ff006d1174c7e1aff2b5dea83cc18913af2400e868bc2e7dc58"
