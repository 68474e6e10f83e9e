package node

import "runtime/debug"

// Version is the robustmq version. Commit is the git commit, set at build time with
// -ldflags "-X robustmq/server/node.Commit=<sha>"; when empty, CommitID falls back to the commit the Go
// toolchain stamped (absent under -buildvcs=false).
var (
	Version = "0.1.0-dev"
	Commit  = ""
)

// CommitID is the commit this binary was built from, or "" if unknown.
func CommitID() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}
