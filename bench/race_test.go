//go:build race

package bench

// raceEnabled: the race detector shadows touched heap memory, which adds to the RSS.
const raceEnabled = true
