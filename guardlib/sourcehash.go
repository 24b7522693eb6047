package guardlib

// sourcesHash is the hash sources() computes over the embedded runtime
// sources and the build flags. Key uses this copy so that immunix-cc does
// not read and hash 56 KB of C on every link; TestSourcesHash keeps it
// equal to the computed one (go test ./guardlib -run TestSourcesHash
// -update rewrites it after a change to the runtime or its flags).
const sourcesHash = "c17362b72b5b149884ae0e7622f3d93b7a28c230b3da9906ccd54ac0e1cdcc96"
