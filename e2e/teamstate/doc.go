// Package teamstate holds the end-to-end tests of team state (issue 6):
// the example program and the athanor command, built once per test binary,
// run as real processes against a Cloud Control emulator on loopback with
// their state in a throwaway PostgreSQL cluster — deploys, lock refusal
// naming the holder, lease expiry after a SIGKILL, stages deployed at once,
// migration between the file and PostgreSQL backends, two stages of the
// example side by side on one emulator, a stage bound to its
// target and refused by every other one, and fencing (issue 9): a run whose
// lease lapses, its database connection blocked by a pausable proxy or the
// process stopped with SIGSTOP, stops and cannot write the state another run
// took over. The package has no code of its own; see the _test.go files.
package teamstate
