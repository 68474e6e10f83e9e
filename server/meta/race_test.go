//go:build race

package meta_test

// raceBuild makes TestMain build the node binary with -race too.
const raceBuild = true
