// Command robustmq is the robustmq node and its tools in one binary.
//
//	robustmq [start] [--config FILE]   run a node (the default command)
//	robustmq version                   print the version
//	robustmq bench meta|mqtt|kafka ... load tools printing rate and p50/p99 (bench.go)
//	robustmq help                      list the commands
//
// Exit codes: 0 success; 1 the node failed to start or stop, or a second signal forced exit;
// 2 bad usage or an invalid configuration (every problem is printed, one per line).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"robustmq/server/node"
)

// command is one subcommand. Later tools (bench, ctl) add theirs to commands.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is filled in init because help reads it.
var commands []command

func init() {
	commands = []command{
		{"start", "run a node (default): start [--config FILE]; no --config runs the embedded defaults", start},
		{"version", "print the version, commit and Go version", version},
		{"bench", "load a running node: bench meta (put|commit), bench mqtt pubsub|conn, bench kafka produce|consume; bench <tool> --help", bench},
		{"help", "list the commands", help},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	name := "start"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "robustmq: unknown command %q\n", name)
	help(nil, stderr, stderr)
	return node.ExitConfig
}

func start(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "TOML configuration `file`; without it the node runs the embedded defaults")
	fs.Usage = func() {} // printed below, to stdout when asked for
	usage := func(w io.Writer) {
		help(nil, w, nil)
		fmt.Fprintln(w, "\nflags of start:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return node.ExitOK
		}
		usage(stderr)
		return node.ExitConfig
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "robustmq: start: unexpected argument %q\n", fs.Arg(0))
		return node.ExitConfig
	}
	return node.Run(node.RunOptions{ConfigPath: *path, Environ: os.Environ(), Stdout: stdout, Stderr: stderr})
}

func version(_ []string, stdout, _ io.Writer) int {
	commit := node.CommitID()
	if commit == "" {
		commit = "unknown"
	}
	fmt.Fprintf(stdout, "robustmq %s (commit %s, %s %s/%s)\n", node.Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return node.ExitOK
}

func help(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "usage: robustmq [command] [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(stdout, "  %-8s %s\n", c.name, c.summary)
	}
	return node.ExitOK
}
