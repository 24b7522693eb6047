package guardlib

// sourcesHash is the hash sources() computes over the embedded runtime
// sources and the build flags. Key uses this copy so that immunix-cc does
// not read and hash 56 KB of C on every link; TestSourcesHash keeps it
// equal to the computed one (go test ./guardlib -run TestSourcesHash
// -update rewrites it after a change to the runtime or its flags).
const sourcesHash = "76a10d047dd594bf65184e87b7e531cf0b474e6ebe3d127ca4f7e9989e76dbee"
