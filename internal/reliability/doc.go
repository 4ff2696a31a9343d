// Package reliability proves Gatescope's promises under fire: it runs the
// real `gatescope serve` binary as a child process, drives it with the
// simulator, kills it, overloads it, feeds it hostile input and watches
// its memory, goroutines and file descriptors (docs/reliability.md).
//
// The helpers here (a child-process runner, /proc readers, a transport
// that records what the server acknowledged) serve the package's tests;
// `go test` runs short versions, GATESCOPE_RELIABILITY=full (make
// reliability) the long ones.
package reliability
