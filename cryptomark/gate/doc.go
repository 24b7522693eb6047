// Package gate is CryptoMark's gate, the daemon behind "immunix markd": it
// listens for fanotify FAN_OPEN_EXEC_PERM events on the filesystems it is
// told to mark, finds the first matching rule of its policy for each
// program about to run, verifies the program's signature
// (package cryptomark) through the file descriptor the kernel hands it,
// and answers allow or deny. Denials and audited runs raise one
// kind=cryptomark alert each.
//
// It must never hang the machine: every event is answered within
// Config.Timeout (a verification that has not finished by then is
// answered by policy; a full queue is answered by policy at once), the
// gate reads files only through the event's descriptor (which the kernel
// opens without raising events), alerts are sent from their own
// goroutine through a bounded queue, and when the daemon dies the kernel
// allows every pending event as it closes the fanotify descriptor.
package gate
