// Package doctest tests portenv's documentation: every relative link in the
// repository's Markdown files leads somewhere, and every command block of
// the README and of docs/ is run against a real engine, marked as run by
// .ci/run, or listed in docs/testing.md as not runnable here, with why.
// docs/testing.md describes the markers.
package doctest
