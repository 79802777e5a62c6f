//go:build race

package e2e

// raceEnabled: the race detector slows the spawned deploys several times,
// so the crash test kills at fewer points.
const raceEnabled = true
