//go:build ignore

// Command empty returns at once: the least a static Go program costs to
// start, for scale.
package main

func main() {}
