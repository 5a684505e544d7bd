//go:build !unix

package kafkatest

// lockFile does nothing where flock is unavailable; fault tests then rely
// on go test running them one package at a time (-p 1).
func lockFile(string) (func(), error) { return func() {}, nil }
