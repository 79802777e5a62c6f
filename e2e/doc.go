// Package e2e holds Athanor's end-to-end tests: real programs deploy,
// replace and destroy resources through the real AWS SDK against the Cloud
// Control emulator over loopback HTTP, including runs killed with SIGKILL
// at many points and emulators injecting throttling and asynchronous
// failures. The package has no code of its own; see the _test.go files.
package e2e
