//go:build !race

package meta_test

const raceBuild = false
