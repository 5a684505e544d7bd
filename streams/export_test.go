package streams

// SetFinalCommitHook installs fn to run inside every worker's final commit
// (with the worker lock held) until the returned func removes it.
func SetFinalCommitHook(fn func(appID string)) (remove func()) {
	testHookFinalCommit.Store(&fn)
	return func() { testHookFinalCommit.Store(nil) }
}

// JavaTaskDirs exposes javaTaskDirs.
func JavaTaskDirs(dir string) []string { return javaTaskDirs(dir) }
