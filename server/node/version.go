package node

// Version is the robustmq version. Commit is the git commit, set at build time with
// -ldflags "-X robustmq/server/node.Commit=<sha>"; empty when not set.
var (
	Version = "0.1.0-dev"
	Commit  = ""
)
