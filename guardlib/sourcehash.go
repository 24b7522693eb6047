package guardlib

// sourcesHash is the hash sources() computes over the embedded runtime
// sources and the build flags. Key uses this copy so that immunix-cc does
// not read and hash 56 KB of C on every link; TestSourcesHash keeps it
// equal to the computed one (go test ./guardlib -run TestSourcesHash
// -update rewrites it after a change to the runtime or its flags).
const sourcesHash = "510b1d981a5cb684943286dc68db1fd5bb7fd8b8a2fd61f7431729f9811e03aa"
